"""The run journal: everything a run did, in an embedded SQLite file.

Every order, order update, fill, position change, strategy state, risk
verdict and notifier event of a run is written as it happens, so a run can
be inspected after it ends or dies (``tradekit runs``, ``tradekit report``)
and a strategy rebuilt after a restart without losing or duplicating an
order. See :class:`Journal`.
"""

from tradekit.journal.connection import BATCH_ROWS, BATCH_SECONDS
from tradekit.journal.records import RunRecord
from tradekit.journal.schema import SCHEMA_VERSION
from tradekit.journal.store import Journal

__all__ = ["BATCH_ROWS", "BATCH_SECONDS", "SCHEMA_VERSION", "Journal", "RunRecord"]
