"""The review workflow: people correct machine transcripts, and no edit is ever lost.

``edits`` keeps human edits (reviewed.json, revisions, audit log), ``textfile`` is the
plain-text review file, ``server`` the local review page, ``cli`` the ``testimony review``
command.
"""
