"""Sign-in form (CSRF-protected through Flask-WTF)."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

# No e-mail syntax check here: an address that is not one simply matches no account,
# and the check would reject reserved domains some clients use internally.


class LoginForm(FlaskForm):
    email = EmailField(
        "E-mail", validators=[DataRequired("Enter your e-mail address."), Length(max=254)]
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=200)]
    )
