"""How demo rows are told apart from real ones, so that `seed_demo --reset` removes only them.

Customers, purchases and the calls of unknown numbers carry an external ID starting with
`demo-`; products a SKU starting with `DEMO-`; categories a slug starting with `demo-`;
surveys and SLA policies a name starting with "Demo · "; staff a username starting `demo.`.
Everything else a demo customer has (tickets, interactions, ...) goes with the customer.
"""

from __future__ import annotations

DEMO_EXTERNAL_PREFIX = "demo-"
DEMO_SKU_PREFIX = "DEMO"
DEMO_SLUG_PREFIX = "demo-"
DEMO_NAME_PREFIX = "Demo · "
DEMO_USERNAME_PREFIX = "demo."

CUSTOMER_ID_PREFIX = f"{DEMO_EXTERNAL_PREFIX}c-"
PURCHASE_ID_PREFIX = f"{DEMO_EXTERNAL_PREFIX}ol-"
UNKNOWN_CALL_ID_PREFIX = f"{DEMO_EXTERNAL_PREFIX}call-"
CONTACT_ID_PREFIX = f"{DEMO_EXTERNAL_PREFIX}contact-"
