"""The overview and activity pages as the server renders them (the live behaviour is in tests/browser)."""

import json

import pytest
from django.db import transaction
from django.test import Client

from deltran.events import event_record
from deltran.models import OutboxEvent
from deltran.roles import AUDITOR, VIEWER
from tests.payments.factories import make_payment

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_home_is_the_overview_and_it_needs_a_login(scenario, client, users):
    assert client.get("/dashboard/").status_code == 302
    assert client.get("/activity/").status_code == 302
    assert logged_in(users[VIEWER]).get("/").url == "/dashboard/"


def test_overview_shows_the_figures_and_configures_the_socket(scenario, users, settings):
    settings.WEBSOCKET_URL = "ws://127.0.0.1:8001/api/v1/ws"
    payment = make_payment(amount="1234.50")
    response = logged_in(users[VIEWER]).get("/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-metric="queue_depth">1<' in html
    assert 'data-currency="USD"' in html and "1,234.50" in html
    assert payment.payment_reference in html
    config = json.loads(html.split('id="live-config" type="application/json">')[1].split("</script>")[0])
    assert config["url"] == "ws://127.0.0.1:8001/api/v1/ws"
    assert config["last_event_id"] == OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first()
    # A Viewer gets no compliance topics; an Auditor does.
    assert "payment_update" in config["topics"] and "compliance_alert" not in config["topics"]
    auditor = logged_in(users[AUDITOR]).get("/dashboard/").content.decode()
    assert '"compliance_alert"' in auditor
    assert len(config["per_second"]) == 120


def test_overview_alerts_feed_starts_with_recent_alerts(scenario, users):
    with transaction.atomic():
        event_record(topic="settlement", event_type="settlement.netting_cycle", payload={"id": 3, "status": "settled"})
    html = logged_in(users[VIEWER]).get("/dashboard/").content.decode()
    config = json.loads(html.split('id="live-config" type="application/json">')[1].split("</script>")[0])
    assert [(a["type"], a["data"]["id"]) for a in config["alerts"]] == [("netting_cycle", 3)]


def test_activity_page_has_three_charts_and_every_bank(scenario, users, django_assert_max_num_queries):
    make_payment(amount="10.00", currency="EUR", sender_bic="LUMIILITXXX", receiver_bic="ENBXAEADXXX")
    client = logged_in(users[VIEWER])
    client.get("/activity/")  # first request rolls the counters up
    with django_assert_max_num_queries(12):
        response = client.get("/activity/")
    html = response.content.decode()
    assert html.count('class="bars-svg"') == 3
    assert html.count("<tr data-bic=") == 4
    assert "10.00 EUR" in html
    assert html.count('<th scope="row" data-label="Day">') == 30
