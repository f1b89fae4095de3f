"""Queries of the 数据接入 page: the file registry (ingest.files) and the held-back list."""

from __future__ import annotations

import pandas as pd

from data import Missing, query


def files() -> pd.DataFrame | Missing:
    return query(
        """
        select source_id, entity, file_name, period, status, reason, received_at, size_bytes,
               rows_read, rows_landed, rows_quarantined, rows_footer, file_id, replaces_file_id
        from ingest.files order by received_at desc, file_name
        """
    )


def held_back() -> pd.DataFrame | Missing:
    """Refused files and the source-periods they hold back from this publication."""
    return query(
        """
        select source_id, period, file_name, entity, reason, files_withheld, rows_withheld, received_at
        from ingest.held_back order by source_id, period, file_name
        """
    )


def files_by_source() -> pd.DataFrame | Missing:
    return query(
        """
        select source_id,
               count(*) as n_received,
               count(*) filter (where status = 'landed') as n_landed,
               count(*) filter (where status = 'rejected') as n_rejected,
               count(*) filter (where status = 'duplicate') as n_duplicate,
               count(*) filter (where status = 'replaced') as n_replaced,
               sum(rows_read)::bigint as rows_read, sum(rows_landed)::bigint as rows_landed,
               sum(rows_quarantined)::bigint as rows_quarantined
        from ingest.files group by source_id order by source_id
        """
    )


def freshness(as_of=None) -> pd.DataFrame | Missing:
    """Last file received, last landed file and latest period per source, with age at ``as_of``."""
    as_of = as_of if as_of is not None else pd.Timestamp.now()
    return query(
        """
        select source_id,
               max(received_at) as last_received_at,
               max(received_at) filter (where status = 'landed') as last_landed_at,
               max(period) filter (where status = 'landed') as latest_period,
               (epoch(?::timestamp) - epoch(max(received_at))) / 86400.0 as days_since_received
        from ingest.files group by source_id order by source_id
        """,
        (pd.Timestamp(as_of).to_pydatetime(),),
    )
