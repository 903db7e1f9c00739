import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create a superuser `admin` if no superuser exists (password from DJANGO_ADMIN_PASSWORD, or generated)."

    def handle(self, *args, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = os.environ.get("DJANGO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(username="admin", email="", password=password)
        if os.environ.get("DJANGO_ADMIN_PASSWORD"):
            self.stdout.write(self.style.SUCCESS("Created superuser 'admin' with the password from DJANGO_ADMIN_PASSWORD."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Created superuser 'admin' with password: {password}"))
            self.stdout.write("This password is shown once; change it in the admin.")
