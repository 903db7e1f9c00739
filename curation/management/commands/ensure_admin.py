import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from registry_project.env import env_str


class Command(BaseCommand):
    help = "Create a superuser `admin` if no superuser exists (password from DJANGO_ADMIN_PASSWORD, or generated)."

    def add_arguments(self, parser):
        parser.add_argument("--password-file", type=Path, metavar="PATH",
                            help="Also write a generated password to this file, readable by its owner only.")

    def handle(self, *args, password_file, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        given_password = env_str("DJANGO_ADMIN_PASSWORD")
        password = given_password or secrets.token_urlsafe(12)
        User.objects.create_superuser(username="admin", email="", password=password)
        if given_password:
            self.stdout.write(self.style.SUCCESS("Created superuser 'admin' with the password from DJANGO_ADMIN_PASSWORD."))
            return
        self.stdout.write(self.style.SUCCESS(f"Created superuser 'admin' with password: {password}"))
        if password_file:
            descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(descriptor, 0o600)  # an existing file keeps its mode through O_CREAT
            with open(descriptor, "w") as file:
                file.write(password + "\n")
            self.stdout.write(f"It is also in {password_file} (readable by you only); change it in the admin.")
        else:
            self.stdout.write("This password is shown once; change it in the admin.")
