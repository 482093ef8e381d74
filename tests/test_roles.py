"""Roles through Gradio's HTTP API, as a script would send them: the real app server on
127.0.0.1, gradio_client signed in as a reviewer and as an operator."""

from __future__ import annotations

import pytest

from persd_app.app import Login
from tests.ports import free_port

REFUSED = "Only an operator may"


@pytest.fixture(scope="module")
def roles_app(tmp_path_factory):
    from persd_app.app import launch

    models = tmp_path_factory.mktemp("models")
    running = launch(tmp_path_factory.mktemp("sessions"), port=free_port(), block=False,
                     quiet=True, models_dir=models, auth=[Login("ana", "ana-pw", "reviewer"),
                                       Login("olga", "olga-pw", "operator")])
    running.models = models
    yield running
    running.close()


def client(app, user: str, password: str):
    from gradio_client import Client

    return Client(app.url, auth=(user, password), verbose=False)


@pytest.mark.parametrize("endpoint, args, action", [
    ("/stop", (None,), "stop the loop"),
    ("/create_tiny_model", (), "create the tiny model"),
])
def test_a_reviewer_is_refused_an_operator_action_through_the_api(roles_app, endpoint, args,
                                                                  action):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as refused:
        client(roles_app, "ana", "ana-pw").predict(*args, api_name=endpoint)
    assert f"{REFUSED} {action}: ana is signed in as reviewer" in str(refused.value)
    assert list(roles_app.models.iterdir()) == []  # nothing was made


def test_an_operator_gets_through_to_the_action(roles_app):
    answer = client(roles_app, "olga", "olga-pw").predict(None, api_name="/stop")
    assert REFUSED not in str(answer) and "Pick a session first" in str(answer)


def test_the_header_shows_the_role(roles_app):
    shown = client(roles_app, "ana", "ana-pw").predict(api_name="/on_load")
    assert "Signed in as <b>ana</b> (reviewer)" in str(shown)
