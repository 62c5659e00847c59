"""The Spark engine's matcher: the ``sig``, ``tok`` and ``dev`` tables joined to the directory
in Spark SQL, statement for statement what :mod:`breachdesk.engine.match` does in DuckDB,
stitching included (a device id seen with a matched identity ties its users; a signature of
device ids only identifies every user tied to any of them, one hop).

Only results come back: the affected users (ordered on the driver by the embedded engine's
own ordering, so both engines write the same rows in the same order), organizations,
unmatched identities and the users of the signatures that carry findings.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from breachdesk.directory.model import Directory
from breachdesk.domain.identity import TokenKind
from breachdesk.domain.impact import UNMATCHED_REASONS, AffectedOrganization, UnmatchedIdentity
from breachdesk.engine.match import CATEGORY_BITS, order_users
from breachdesk.engine.spark.tables import SparkEngine
from breachdesk.impact import Impact

# The columns of the engine's affected users, as the embedded engine types them.
USERS_SCHEMA = pa.schema(
    [
        *((name, pa.string()) for name in ("user_id", "exposed", "organizations",
                                           "mfa_enabled", "locale", "country", "region",
                                           "status", "country_source")),
        ("mask", pa.int64()),
    ]
)  # fmt: skip


def hold_directory(engine: SparkEngine, directory: Directory) -> None:
    """The directory as the run's Spark views (``users``, ``mb``): created from the Arrow
    tables at once, so the caller can let go of them."""
    spark = engine.session
    v = engine.view
    users = directory.users.append_column("idx", pa.array(range(len(directory)), pa.int64()))
    spark.createDataFrame(users).createOrReplaceTempView(v("users"))
    spark.createDataFrame(directory.memberships).createOrReplaceTempView(v("mb"))
    engine.org_ids = frozenset(directory.org_ids)


def match_directory(
    engine: SparkEngine, org_ids_seen: set[str], wanted_signatures: Sequence[int] = ()
) -> Impact:
    """Join the ``sig`` and ``tok`` tables to the directory ``hold_directory`` took in."""
    spark = engine.session
    v = engine.view
    sig, tok, dev = v("sig"), v("tok"), v("dev")
    known = sorted(org_ids_seen & engine.org_ids)
    spark.createDataFrame(
        pa.table({"org_id": pa.array(known, pa.string())})
    ).createOrReplaceTempView(v("seen_orgs"))
    sql = spark.sql
    sql(
        f"SELECT idx, email FROM {v('users')} LATERAL VIEW explode(emails) e AS email"
    ).createOrReplaceTempView(v("emails"))
    hashed_sql = (
        f"""
        UNION ALL
        SELECT t.sig_id, e.idx FROM {tok} t JOIN {v("emails")} e ON lower(t.value) = md5(e.email)
        WHERE t.kind = 'hashed_email' AND length(t.value) = 32
        UNION ALL
        SELECT t.sig_id, e.idx FROM {tok} t JOIN {v("emails")} e
          ON lower(t.value) = sha2(e.email, 256)
        WHERE t.kind = 'hashed_email' AND length(t.value) = 64
        """
        if engine.hashed
        else ""
    )
    m = engine.hold(
        sql(
            f"""
            SELECT DISTINCT sig_id, idx FROM (
                SELECT t.sig_id, u.idx FROM {tok} t JOIN {v("users")} u ON t.value = u.user_id
                WHERE t.kind IN ('user_id', 'hashed_email')
                UNION ALL
                SELECT t.sig_id, e.idx FROM {tok} t JOIN {v("emails")} e ON t.value = e.email
                WHERE t.kind = 'email'
                {hashed_sql}
            )
            """
        )
    )
    m.createOrReplaceTempView(v("m"))
    stitched = engine.hold(
        sql(
            f"""
            WITH ties AS (
                SELECT DISTINCT d.device, m.idx FROM {v("m")} m JOIN {dev} d ON m.sig_id = d.sig_id
            )
            SELECT DISTINCT d.sig_id, t.idx
            FROM {dev} d JOIN ties t ON d.device = t.device JOIN {sig} s ON d.sig_id = s.sig_id
            WHERE NOT s.personal
            """
        )
    )
    stitched.createOrReplaceTempView(v("stitched"))
    sql(
        f"SELECT sig_id, idx FROM {v('m')} UNION ALL SELECT sig_id, idx FROM {v('stitched')}"
    ).createOrReplaceTempView(v("m_all"))
    affected = engine.hold(
        sql(
            f"""
            SELECT m.idx, bit_or(s.mask) AS mask,
                   min_by(s.country, CASE WHEN s.country <> '' THEN s.sig_id END)
                       AS export_country
            FROM {v("m_all")} m JOIN {sig} s ON m.sig_id = s.sig_id GROUP BY m.idx
            """
        )
    )
    affected.createOrReplaceTempView(v("affected"))
    sql(
        f"""
        SELECT mb.user_id, mb.org_id, mb.role, u.idx, u.active
        FROM {v("mb")} mb LEFT JOIN {v("users")} u ON mb.user_id = u.user_id
        """
    ).createOrReplaceTempView(v("mbi"))
    exposed = ", ".join(
        f"CASE WHEN a.mask & {bit} <> 0 THEN '{category.value}' END"
        for category, bit in sorted(CATEGORY_BITS.items(), key=lambda kv: kv[0].value)
    )
    found = sql(
        f"""
        WITH orgs AS (
            SELECT a.idx, array_join(array_sort(collect_set(mbi.org_id)), ';') AS ids
            FROM {v("affected")} a JOIN {v("mbi")} mbi ON mbi.idx = a.idx GROUP BY a.idx
        )
        SELECT u.user_id,
               concat_ws(';', {exposed}) AS exposed,
               coalesce(orgs.ids, '') AS organizations,
               CASE WHEN u.mfa_enabled IS NULL THEN ''
                    WHEN u.mfa_enabled THEN 'true' ELSE 'false' END AS mfa_enabled,
               u.locale,
               coalesce(nullif(u.country, ''), a.export_country, '') AS country,
               u.region,
               CASE WHEN u.active THEN 'active' ELSE 'deactivated' END AS status,
               CASE WHEN u.country <> '' THEN 'directory'
                    WHEN a.export_country IS NOT NULL THEN 'export' ELSE '' END AS country_source,
               a.mask
        FROM {v("affected")} a JOIN {v("users")} u ON a.idx = u.idx
        LEFT JOIN orgs ON orgs.idx = a.idx
        """
    ).toArrow()
    users_found = order_users(found.select(USERS_SCHEMA.names).cast(USERS_SCHEMA))
    orgs = sql(
        f"""
        WITH aff_orgs AS (
            SELECT DISTINCT mbi.org_id FROM {v("mbi")} mbi
            JOIN {v("affected")} a ON mbi.idx = a.idx
            UNION SELECT org_id FROM {v("seen_orgs")}
        ),
        members AS (
            SELECT mbi.org_id, count(DISTINCT mbi.idx) AS n
            FROM {v("mbi")} mbi JOIN {v("affected")} a ON mbi.idx = a.idx GROUP BY mbi.org_id
        ),
        admins AS (
            SELECT org_id, array_sort(collect_set(user_id)) AS ids FROM {v("mbi")}
            WHERE role IN ('owner', 'admin') AND active GROUP BY org_id
        )
        SELECT o.org_id, coalesce(members.n, 0) AS n, coalesce(admins.ids, array()) AS ids
        FROM aff_orgs o LEFT JOIN members ON members.org_id = o.org_id
        LEFT JOIN admins ON admins.org_id = o.org_id
        ORDER BY o.org_id
        """
    ).collect()
    organizations = tuple(
        AffectedOrganization(r["org_id"], int(r["n"]), tuple(r["ids"])) for r in orgs
    )
    unmatched_sigs = engine.hold(
        sql(
            f"""
            SELECT s.sig_id, s.records FROM {sig} s LEFT ANTI JOIN {v("m")} m
              ON s.sig_id = m.sig_id
            WHERE s.personal
            """
        )
    )
    unmatched_sigs.createOrReplaceTempView(v("unmatched_sigs"))
    unmatched_records = sql(
        f"SELECT coalesce(sum(records), 0) AS n FROM {v('unmatched_sigs')}"
    ).collect()[0]["n"]
    counted = sql(
        f"""
        SELECT coalesce(sum(CASE WHEN st.sig_id IS NOT NULL THEN s.records END), 0) AS stitched,
               coalesce(sum(CASE WHEN st.sig_id IS NULL THEN s.records END), 0) AS anonymous
        FROM {sig} s LEFT JOIN (SELECT DISTINCT sig_id FROM {v("stitched")}) st
          ON s.sig_id = st.sig_id
        WHERE NOT s.personal
        """
    ).collect()[0]
    identities = sql(
        f"""
        SELECT t.kind, t.value, sum(u.records) AS n FROM {tok} t
        JOIN {v("unmatched_sigs")} u ON t.sig_id = u.sig_id
        GROUP BY t.kind, t.value ORDER BY t.kind, t.value
        """
    ).toArrow()
    unmatched = tuple(
        UnmatchedIdentity(TokenKind(kind), value, int(n), UNMATCHED_REASONS[TokenKind(kind)])
        for kind, value, n in zip(
            *(identities.column(c).to_pylist() for c in ("kind", "value", "n")), strict=True
        )
    )
    by_signature: dict[int, tuple[str, ...]] = {}
    if wanted_signatures:
        spark.createDataFrame(
            pa.table({"sig_id": pa.array(sorted(set(wanted_signatures)), pa.int64())})
        ).createOrReplaceTempView(v("wanted"))
        for row in sql(
            f"""
            SELECT m.sig_id, array_sort(collect_list(u.user_id)) AS ids
            FROM {v("m_all")} m JOIN {v("wanted")} w ON m.sig_id = w.sig_id
            JOIN {v("users")} u ON u.idx = m.idx GROUP BY m.sig_id
            """
        ).collect():
            by_signature[int(row["sig_id"])] = tuple(row["ids"])
    return Impact(
        users=users_found,
        organizations=organizations,
        unmatched=unmatched,
        unmatched_records=int(unmatched_records),
        users_by_signature=by_signature,
        stitched_records=int(counted["stitched"]),
        anonymous_records=int(counted["anonymous"]),
    )
