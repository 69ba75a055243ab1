"""Marshmallow schemas of the API's resources."""

from marshmallow import Schema, fields


class ClientUserSchema(Schema):
    id = fields.Integer(dump_only=True)
    email = fields.Email()
    name = fields.String()
    role = fields.Function(lambda user: user.role.value)
    active = fields.Boolean()
    created_at = fields.DateTime()
