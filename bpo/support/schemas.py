"""Support payloads: tickets."""

from marshmallow import Schema, fields, validate

from bpo.core.fields import text

CHANNELS = ("email", "phone", "chat", "portal", "api", "social")


class Requester(Schema):
    name = text(200)
    email = fields.Email(required=True)


class TicketPayload(Schema):
    """``support.ticket``: a customer's request; its first message opens the thread."""

    subject = text(300)
    requester = fields.Nested(Requester, required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    message = text(20_000)
