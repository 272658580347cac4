"""schemathesis hooks for warranty-gateway's run (run.sh sets SCHEMATHESIS_HOOKS to this file).

They let the stateful phase reach what a new v3 registration leads to (its GET, metadata and
PATCH by id): before them it reached none of the five, and said so.

1. The stateful phase starts its chains only from operations it thinks succeed on made-up
   data, and it takes any `*_id` body field for a reference to a resource another operation
   makes. A v3 create's `product_id` names one of the partner's products (configured, never
   created through the API), so both creates were passed over as starting points.
2. A v3 POST creates only: a storeNumber and invoiceNumber the tenant already has is 409, and
   the generator draws the same small values ("0") again and again, so nearly every create
   after the first was a 409 and gave no id to follow. Each create gets an invoiceNumber of its
   own here, as long as the one drawn (a few characters for a shorter one): a valid body stays
   valid, and an invalid one stays invalid for its own reason.
"""

import itertools

import schemathesis
import schemathesis.specs.openapi.stateful as stateful

CREATES = {"POST /api/v3/tire-protection/registrations", "POST /api/v3/motor-club/registrations"}

_likely_root = stateful.is_likely_root_transition


def _v3_creates_are_roots(operation, node, produced_anywhere):
    return operation.label in CREATES or _likely_root(operation, node, produced_anywhere)


# run.sh pins schemathesis's version; a version without this function fails here, loudly.
stateful.is_likely_root_transition = _v3_creates_are_roots

_numbers = itertools.count(1)


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.operation.label not in CREATES:
        return
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("invoiceNumber"), str):
        return
    drawn = body["invoiceNumber"]
    if not drawn.strip():
        return  # a blank invoiceNumber is the 400 being tested
    fresh = f"st{next(_numbers)}"
    body["invoiceNumber"] = fresh if len(drawn) < len(fresh) else (fresh + drawn)[: len(drawn)]
