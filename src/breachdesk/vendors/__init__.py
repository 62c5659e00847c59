"""Vendors: the inventory of data flows to each vendor (``vendors.yaml``), the blast radius
of a vendor's breach, the kill switch, and the minimising relay between an analytics SDK
and its vendor.

``inventory`` reads and validates the file; ``operations`` and ``policy`` say what reaches a
vendor; ``protocols`` speak Mixpanel's and Segment's ingestion formats; ``relay``,
``forward`` and ``spool`` run the relay; ``blast`` ranks vendors by what a breach would
expose; ``killswitch`` cuts a vendor off. The services in ``breachdesk.services.vendors``
tie them to workspaces, the store and the assess pipeline.
"""
