"""Every job kind, in one enum: the API checks a kind here before queueing a job, without
importing the handler code (some of it loads torch); the worker maps each kind to its handler."""

from __future__ import annotations

import enum


class JobKind(enum.StrEnum):
    selfcheck = "selfcheck"
    kb_ingest = "kb.ingest"
    kb_delete = "kb.delete"
    kb_reindex = "kb.reindex"
    intents_import = "intents.import"
    intents_train = "intents.train"
    intents_second_opinion = "intents.second_opinion"
