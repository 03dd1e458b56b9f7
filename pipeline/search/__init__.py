"""Full-text search over every interview, in the job database (SQLite FTS5), offline.

Folding. Reviewers and base models often type a Kazakh or Kyrgyz letter as its Russian-keyboard
stand-in (қ as к, ә as а, і as и), and ё as е. FTS5's unicode61 tokenizer folds case, but no
tokenizer option folds these letters: they are letters of their own, not letters with
diacritics, and Python cannot register a custom tokenizer without a C extension. So both sides
are folded here, to one common form, by a one-for-one letter mapping: the text handed to FTS5
and every query. Because the mapping keeps every letter a letter at the same place, the folded
text splits into the same tokens as the original; the index is an *external-content* table
whose content is the original text, so FTS5's own snippet() highlights the original words.

Withheld text. Each segment row keeps, beside the text reviewers see, a redacted copy of its
fields where a withheld term occurs (``ptext`` ...), and a withheld flag. Press searches match
only the redacted copy of such rows, and never withheld segments, so a withheld name cannot be
found, not even as a hit with its word blacked out. Reviewers see both, marked.

Freshness. Publishing, reviewers' saves and `testimony withhold` update the index. Each
interview also keeps the size and time of the file it was read from; a search re-reads any
interview among its hits whose file changed since, before answering.
"""

from .index import connect, index_transcript, optimize, reindex, stats, update
from .query import CAP, START, STOP, Hit, QueryError, grouped, search

__all__ = [
    "CAP",
    "START",
    "STOP",
    "Hit",
    "QueryError",
    "connect",
    "grouped",
    "index_transcript",
    "optimize",
    "reindex",
    "search",
    "stats",
    "update",
]
