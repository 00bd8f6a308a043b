"""A real Django settings module for tests/test_integrations_django.py.

The database file comes from ``DUCKSPOOL_TEST_DJANGO_DB`` (the test sets it).
"""

import os

SECRET_KEY = "test-only-secret-key-for-duckspool-integration-tests"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
TIME_ZONE = "UTC"  # Django sets the process's TZ from this (default America/Chicago)
ROOT_URLCONF = "tests.django_site.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "duckspool.integrations.django",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "duckspool.integrations.django.TelemetryMiddleware",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DUCKSPOOL_TEST_DJANGO_DB", ":memory:"),
    }
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
DUCKSPOOL_PRODUCT_ID = "django-site"
