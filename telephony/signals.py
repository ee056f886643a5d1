"""Signals of the telephony channel, each sent after the commit of the event that caused it.

`call_ringing(call_id: int, operator_ids: list[int], phone: str, customer_ids: list[int])`:
a new call rings; `operator_ids` are the operators the PBX named (user[] / answeringNumber) or,
when it named a queue, the members of the team of that name; `phone` is the caller's number
(E.164 where it parses) for an inbound call, the called number for an outbound one;
`customer_ids` the customers with that number.

`call_updated(call_id: int, state: str)`: the call was answered (`answered`) or ended (`ended`).
"""

from django.dispatch import Signal

call_ringing = Signal()
call_updated = Signal()
