import pytest
from django.urls import reverse
from tests.mirror.test_admin import *
def test_x(staff_client, data):
    r = staff_client.get(reverse("admin:mirror_serverversion_change", args=[data[0].pk]))
    b = r.content.decode(); i = b.find('description'); print(b[b.find('<pre'):b.find('<pre')+600])
