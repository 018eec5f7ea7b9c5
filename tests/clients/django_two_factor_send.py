"""django-two-factor-auth's Twilio gateway sending a login code, configured as an app configures
it (settings only): run by tests/acceptance/test_intercept.py through the intercepting proxy.

    python django_two_factor_send.py ACCOUNT_SID AUTH_TOKEN TO TOKEN
"""

import sys
from types import SimpleNamespace

import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=[
        "django.contrib.contenttypes",
        "django.contrib.auth",
        "django_otp",
        "two_factor",
    ],
    TWILIO_ACCOUNT_SID=sys.argv[1],
    TWILIO_AUTH_TOKEN=sys.argv[2],
    TWILIO_CALLER_ID="+15005550006",
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
    DATABASES={},
    USE_I18N=True,
)
django.setup()

from phonenumber_field.phonenumber import PhoneNumber  # noqa: E402
from two_factor.gateways.twilio.gateway import Twilio  # noqa: E402

device = SimpleNamespace(number=PhoneNumber.from_string(sys.argv[3]))
Twilio().send_sms(device=device, token=sys.argv[4])
print("sent")
