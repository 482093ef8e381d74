"""Where logins come from: --auth-file, PERSD_AUTH, or the command line (with a warning,
as `ps` shows it), and the USER:PASS[:ROLE] lines themselves."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd_app.app import Login, read_logins

WARNING = "visible to every user of this machine"


def run(*args: str, env: dict | None = None):
    # --port 0 is refused after the logins are read: nothing is served.
    return CliRunner().invoke(cli, ["app", "--port", "0", *args],
                              env={"PERSD_AUTH": None, "PERSD_AUTH_FILE": None, **(env or {})})


def test_a_password_on_the_command_line_is_warned_of(tmp_path):
    done = run("--auth", "ana:secret", "--sessions-dir", str(tmp_path))
    assert done.exit_code == 1 and WARNING in done.output and "--auth-file" in done.output
    assert "secret" not in done.output


def test_logins_from_the_environment_or_a_file_are_not_warned_of(tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("ana:one:reviewer\nben:two\n")
    for args, env in ((["--auth-file", str(users)], None),
                      ([], {"PERSD_AUTH": "ana:one:reviewer\nben:two"}),
                      ([], {"PERSD_AUTH_FILE": str(users)}),
                      (["--auth", str(users)], None)):
        done = run(*args, "--sessions-dir", str(tmp_path), env=env)
        assert done.exit_code == 1 and "--port 0" in done.output, (args, done.output)
        assert WARNING not in done.output, args


def test_bad_login_sources_are_one_clear_message(tmp_path):
    users = tmp_path / "users.txt"
    users.write_text("ana:one\nben\n")
    done = run("--auth-file", str(users))
    assert done.exit_code == 1 and f"{users}:2: expected USER:PASS[:ROLE]" in done.output
    done = run("--auth-file", str(tmp_path / "missing.txt"))
    assert done.exit_code == 1 and "missing.txt': no such file" in done.output
    done = run("--auth", "a:b", "--auth-file", str(users))
    assert done.exit_code == 1 and "not both" in done.output


def test_login_lines_with_and_without_roles():
    assert read_logins("ana:s3:cret") == [Login("ana", "s3:cret", "operator")]
    assert read_logins("ana:pw:reviewer\nben:pw:x:operator\n# note\ncid:pw") == [
        Login("ana", "pw", "reviewer"), Login("ben", "pw:x", "operator"),
        Login("cid", "pw", "operator")]
    with pytest.raises(ValueError, match="--auth line 2"):
        read_logins("ana:pw\n:pw")
    with pytest.raises(ValueError, match="non-empty user and password"):
        read_logins("ana::reviewer")
