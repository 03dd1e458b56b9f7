"""The review workflow: people correct machine transcripts, and no edit is ever lost.

``interview`` says where an interview's files are, ``edits`` keeps human edits (reviewed.json,
revisions, audit log), ``reviewfile`` writes the plain-text review file and ``textfile`` imports
it, ``server`` is the local review page, ``cli`` the ``testimony review`` command.
"""
