"""The engine's matcher: identity signatures joined to the directory in DuckDB.

Signatures (the distinct identity sets the export's records carry, with their record
counts and a bitmask of the categories their non-empty fields and findings expose) and the
directory's columns go in (the directory copied into DuckDB's own tables once, before the
scan, so that they are held within its bounded memory and the caller's Arrow tables can go);
affected users, organizations, admins and unmatched identities come out.

Stitching, as an attacker holding the file would do it, is joins here too: a device id seen
in a signature that identifies directory users ties it to them (``ties``); a signature whose
only identifiers are device ids identifies every user tied to any of them (one hop, so a
shared device identifies each of its users). The reference matcher in ``domain.matching`` states the
same rules in plain Python; property tests keep the two in agreement.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from breachdesk.directory.model import Directory
from breachdesk.domain.identity import TokenKind
from breachdesk.domain.impact import UNMATCHED_REASONS, AffectedOrganization, UnmatchedIdentity
from breachdesk.engine.tables import DuckDBEngine, SignatureRow
from breachdesk.impact import Impact
from breachdesk.taxonomy import Category

# the directory as DuckDB tables (``hold_directory``), kept when a match is tried again
DIRECTORY_TABLES = ("d_users", "d_emails", "d_mb", "d_orgs")
# the temporary tables a match creates (dropped before a match is tried again)
MATCH_TABLES = ("m", "stitched", "m_all", "affected", "mbi",
                "unmatched_sigs")  # fmt: skip

CATEGORY_BITS = {category: 1 << i for i, category in enumerate(Category)}


# The order of affected users: numeric ids numerically, then the others; ``{u}`` is the
# table's qualifier. Every engine's rows are put in this order by DuckDB (``order_users``).
USER_ORDER = (
    "NOT regexp_full_match({u}user_id, '[0-9]+'), TRY_CAST({u}user_id AS HUGEINT), {u}user_id"
)


def with_exposed_texts(users: pa.Table) -> pa.Table:
    """``users`` with its ``exposed`` column (each user's category bitmask) turned into the
    categories' text, dictionary-encoded: millions of users share a few dozen
    combinations, and a text per user was most of the memory the affected users took."""
    masks = pc.fill_null(users.column("exposed").combine_chunks(), 0)
    distinct = pc.unique(masks)
    texts = pa.array([";".join(categories_of(m)) for m in distinct.to_pylist()], pa.string())
    exposed = pa.DictionaryArray.from_arrays(pc.index_in(masks, value_set=distinct), texts)
    return users.set_column(users.schema.get_field_index("exposed"), "exposed", exposed)


def order_users(users: pa.Table) -> pa.Table:
    """``users`` (with a ``user_id`` column) in the order affected users are written."""
    con = duckdb.connect(config={"threads": 2})
    try:
        con.register("found", users)
        ordered = con.sql(
            f"SELECT * FROM found ORDER BY {USER_ORDER.format(u='')}"  # noqa: S608 - fixed text
        ).to_arrow_table()
    finally:
        con.close()
    return ordered.cast(users.schema)


def categories_of(mask: int) -> tuple[str, ...]:
    return tuple(sorted(c.value for c, bit in CATEGORY_BITS.items() if mask & bit))


def match_impact(
    rows: Sequence[SignatureRow],
    org_ids_seen: set[str],
    directory: Directory,
    wanted_signatures: Sequence[int] = (),
) -> Impact:
    """Match signatures given as rows (the reference tests' entry point)."""
    tables = DuckDBEngine()
    try:
        tables.load_rows(rows)
        hold_directory(tables.con, directory)
        return match_directory(tables, org_ids_seen, wanted_signatures)
    finally:
        tables.close()


def hold_directory(con: duckdb.DuckDBPyConnection, directory: Directory) -> None:
    """Copy ``directory`` into DuckDB tables: within the engine's bounded memory (spilled to
    the run's folder past it), where the directory's Arrow tables of a few million users
    were the largest thing the process held for the whole run."""
    users = directory.users.append_column("idx", pa.array(range(len(directory)), pa.int64()))
    con.register("directory_users", users)
    con.execute(
        """
        CREATE TEMP TABLE d_users AS
        SELECT idx, user_id, locale, country, region, mfa_enabled, active FROM directory_users
        """
    )
    con.execute(
        "CREATE TEMP TABLE d_emails AS SELECT idx, unnest(emails) AS email FROM directory_users"
    )
    con.unregister("directory_users")
    con.register("directory_mb", directory.memberships)
    con.execute("CREATE TEMP TABLE d_mb AS SELECT user_id, org_id, role FROM directory_mb")
    con.unregister("directory_mb")
    con.register("directory_orgs", pa.table({"org_id": pa.array(directory.org_ids, pa.string())}))
    con.execute("CREATE TEMP TABLE d_orgs AS SELECT org_id FROM directory_orgs")
    con.unregister("directory_orgs")


def match_directory(
    tables: DuckDBEngine, org_ids_seen: set[str], wanted_signatures: Sequence[int] = ()
) -> Impact:
    """Join the ``sig`` and ``tok`` tables to the directory ``hold_directory`` copied."""
    con = tables.con
    hashed = con.execute("SELECT count(*) FROM tok WHERE kind = 'hashed_email'").fetchall()[0]
    con.register("seen_orgs", pa.table({"org_id": pa.array(sorted(org_ids_seen), pa.string())}))
    # One join per statement: a UNION of joins builds every hash table at once, which ran out
    # of DuckDB's bounded memory on ten million signatures. A signature naming a user twice
    # (by id and by email) is two rows of ``m``: nothing below counts them (bit_or, DISTINCT,
    # NOT IN), and a DISTINCT over millions of rows ran out of that memory at one million.
    con.execute(
        """
        CREATE TEMP TABLE m AS SELECT t.sig_id, u.idx FROM tok t
        JOIN d_users u ON t.value = u.user_id WHERE t.kind IN ('user_id', 'hashed_email')
        """
    )
    con.execute(
        """
        INSERT INTO m SELECT t.sig_id, e.idx FROM tok t
        JOIN d_emails e ON t.value = e.email WHERE t.kind = 'email'
        """
    )
    if hashed and hashed[0]:
        for digest, length in (("md5", 32), ("sha256", 64)):
            con.execute(
                f"""
                INSERT INTO m SELECT t.sig_id, e.idx FROM tok t
                JOIN d_emails e ON lower(t.value) = {digest}(e.email)
                WHERE t.kind = 'hashed_email' AND length(t.value) = {length}
                """  # noqa: S608 - fixed function names and lengths
            )
    con.execute(
        """
        CREATE TEMP TABLE stitched AS
        WITH ties AS (SELECT DISTINCT d.device, m.idx FROM m JOIN dev d USING (sig_id))
        SELECT DISTINCT d.sig_id, t.idx
        FROM dev d JOIN ties t USING (device) JOIN sig s USING (sig_id)
        WHERE NOT s.personal
        """
    )
    con.execute("CREATE TEMP TABLE m_all AS SELECT * FROM m UNION ALL SELECT * FROM stitched")
    con.execute(
        """
        CREATE TEMP TABLE affected AS
        SELECT m.idx, bit_or(s.mask) AS mask,
               arg_min(s.country, s.sig_id) FILTER (WHERE s.country <> '') AS export_country
        FROM m_all m JOIN sig s USING (sig_id) GROUP BY m.idx
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE mbi AS
        SELECT mb.user_id, mb.org_id, mb.role, u.idx, u.active
        FROM d_mb mb LEFT JOIN d_users u ON mb.user_id = u.user_id
        """
    )
    users = with_exposed_texts(
        con.sql(
            f"""
        WITH spans AS (
            SELECT a.idx, min(mbi.org_id) AS lo, max(mbi.org_id) AS hi
            FROM affected a JOIN mbi ON mbi.idx = a.idx GROUP BY a.idx
        ),
        several AS (  -- a sorted list only for the users of two organizations or more
            SELECT s.idx, array_to_string(list_sort(list_distinct(list(mbi.org_id))), ';') AS ids
            FROM spans s JOIN mbi ON mbi.idx = s.idx WHERE s.lo <> s.hi GROUP BY s.idx
        ),
        orgs AS (
            SELECT s.idx, CASE WHEN s.lo = s.hi THEN s.lo ELSE several.ids END AS ids
            FROM spans s LEFT JOIN several USING (idx)
        )
        SELECT u.user_id,
               a.mask AS exposed,
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
        FROM affected a JOIN d_users u USING (idx) LEFT JOIN orgs USING (idx)
        ORDER BY {USER_ORDER.format(u="u.")}
        """  # noqa: S608 - the interpolated text is fixed ordering
        ).to_arrow_table()
    )
    orgs = con.execute(
        """
        WITH aff_orgs AS (
            SELECT DISTINCT mbi.org_id FROM mbi JOIN affected a ON mbi.idx = a.idx
            UNION SELECT org_id FROM seen_orgs WHERE org_id IN (SELECT org_id FROM d_orgs)
        ),
        members AS (
            SELECT mbi.org_id, count(DISTINCT mbi.idx) AS n
            FROM mbi JOIN affected a ON mbi.idx = a.idx GROUP BY mbi.org_id
        ),
        admins AS (
            SELECT org_id, list(DISTINCT user_id ORDER BY user_id) AS ids FROM mbi
            WHERE role IN ('owner', 'admin') AND active GROUP BY org_id
        )
        SELECT o.org_id, coalesce(members.n, 0), coalesce(admins.ids, [])
        FROM aff_orgs o LEFT JOIN members USING (org_id) LEFT JOIN admins USING (org_id)
        ORDER BY o.org_id
        """
    ).fetchall()
    organizations = tuple(
        AffectedOrganization(org_id, int(n), tuple(ids)) for org_id, n, ids in orgs
    )
    con.execute(
        """
        CREATE TEMP TABLE unmatched_sigs AS
        SELECT sig_id, records FROM sig
        WHERE personal AND sig_id NOT IN (SELECT sig_id FROM m)
        """
    )
    unmatched_records = con.execute(
        "SELECT coalesce(sum(records), 0) FROM unmatched_sigs"
    ).fetchall()[0]
    stitched_records, anonymous_records = con.execute(
        """
        SELECT coalesce(sum(records) FILTER (WHERE sig_id IN (SELECT sig_id FROM stitched)), 0),
               coalesce(sum(records) FILTER (WHERE sig_id NOT IN (SELECT sig_id FROM stitched)), 0)
        FROM sig WHERE NOT personal
        """
    ).fetchall()[0]
    identities = con.execute(
        """
        SELECT t.kind, t.value, sum(u.records) FROM tok t JOIN unmatched_sigs u USING (sig_id)
        GROUP BY t.kind, t.value ORDER BY t.kind, t.value
        """
    ).fetchall()
    unmatched = tuple(
        UnmatchedIdentity(TokenKind(kind), value, int(n), UNMATCHED_REASONS[TokenKind(kind)])
        for kind, value, n in identities
    )
    by_signature: dict[int, tuple[str, ...]] = {}
    if wanted_signatures:
        con.register(
            "wanted", pa.table({"sig_id": pa.array(sorted(set(wanted_signatures)), pa.int64())})
        )
        for sig_id, ids in con.execute(
            """
            SELECT m.sig_id, list(DISTINCT u.user_id ORDER BY u.user_id)
            FROM m_all m JOIN wanted USING (sig_id) JOIN d_users u ON u.idx = m.idx
            GROUP BY m.sig_id
            """
        ).fetchall():
            by_signature[int(sig_id)] = tuple(ids)
    return Impact(
        users=users,
        organizations=organizations,
        unmatched=unmatched,
        unmatched_records=int(unmatched_records[0]) if unmatched_records else 0,
        users_by_signature=by_signature,
        stitched_records=int(stitched_records),
        anonymous_records=int(anonymous_records),
    )
