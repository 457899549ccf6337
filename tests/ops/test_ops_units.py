"""The systemd units and the scripts beside them (deploy/): they verify, every unit alerts when it fails,
the timers run the commands the app has in the platform's zone, the backup prune keeps pre-upgrade-*
backups, the alert reaches ALERT_COMMAND, and the off-machine copy (rsync, rclone) copies complete
backups only and may run again and again."""

import configparser
import json
import os
import shlex
import shutil
import subprocess
import time

import pytest
from factories.ops import REPO

UNITS = os.path.join(REPO, "deploy", "systemd")
DEPLOY = os.path.join(REPO, "deploy")


def unit(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str
    with open(os.path.join(UNITS, name), encoding="utf-8") as fh:
        parser.read_file(fh)
    return parser


def names(suffix):
    return sorted(n for n in os.listdir(UNITS) if n.endswith(suffix))


def test_units_verify(tmp_path):
    """systemd-analyze verify on the units as installed: /srv/anzexian laid out in a temporary folder."""
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    srv = tmp_path / "srv"
    (srv / "venv" / "bin").mkdir(parents=True)
    os.symlink(REPO, srv / "app")
    for tool in ("flask", "gunicorn"):
        os.symlink(shutil.which(tool), srv / "venv" / "bin" / tool)
    installed = tmp_path / "system"
    installed.mkdir()
    for name in os.listdir(UNITS):
        text = open(os.path.join(UNITS, name), encoding="utf-8").read().replace("/srv/anzexian", str(srv))
        (installed / name).write_text(text, encoding="utf-8")
    # templates verify as instances: the web instances and an alert for a failed backup
    (installed / "anzexian-web@1.service").write_text((installed / "anzexian-web@.service").read_text())
    (installed / "anzexian-alert@anzexian-backup.service.service").write_text(
        (installed / "anzexian-alert@.service").read_text()
    )
    files = [str(p) for p in sorted(installed.iterdir()) if "@." not in p.name]
    result = subprocess.run(
        ["systemd-analyze", "verify", *files],
        capture_output=True,
        text=True,
        env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice"),
    )
    problems = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert result.returncode == 0 and not problems, "\n".join(problems)


def test_every_unit_alerts_when_it_fails():
    for name in names(".service"):
        onfailure = unit(name)["Unit"].get("OnFailure")
        if name == "anzexian-alert@.service":
            assert onfailure is None  # no alert about an alert
        else:
            assert onfailure == "anzexian-alert@%n.service", name


def test_timers_run_the_apps_commands_in_the_platform_zone(app):
    runner = app.test_cli_runner()
    for name in names(".timer"):
        service = name.replace(".timer", ".service")
        assert os.path.exists(os.path.join(UNITS, service)), f"{name} has no {service}"
        calendar = unit(name)["Timer"]["OnCalendar"]
        if not calendar.startswith("*:"):  # every few minutes needs no zone; a time of day does
            assert calendar.endswith(" Asia/Shanghai"), (name, calendar)
        exec_start = unit(service)["Service"]["ExecStart"]
        words = shlex.split(exec_start)
        if words[0].endswith("/flask"):
            args = [w for w in words[1:] if not w.startswith("--app") and w != "app:create_app"]
            command = [w for w in args if not w.startswith("-")][:2]
            result = runner.invoke(args=[*command, "--help"])
            assert result.exit_code == 0, (service, command, result.output)
    assert {"anzexian-security-purge.timer", "anzexian-backup.timer", "anzexian-audit-purge.timer"} <= set(
        names(".timer")
    )
    assert unit("anzexian-backup.service")["Unit"]["OnSuccess"] == "anzexian-backup-offsite.service"


def test_backup_prune_keeps_pre_upgrade_and_recent_backups(tmp_path):
    prune = unit("anzexian-backup.service")["Service"]["ExecStartPost"].replace("/var/backups/anzexian", str(tmp_path))
    old = time.time() - 20 * 86400
    for name, mtime in (
        ("20260101T020000Z", old),
        ("20260102T020000Z", old),
        ("20261129T020000Z", None),
        ("pre-upgrade-20260101", old),
        ("before-migration-by-hand", old),
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
        if mtime:
            os.utime(tmp_path / name, (mtime, mtime))
    subprocess.run(shlex.split(prune), check=True)
    assert sorted(os.listdir(tmp_path)) == ["20261129T020000Z", "before-migration-by-hand", "pre-upgrade-20260101"]


def test_alert_reaches_the_configured_command(tmp_path):
    out = tmp_path / "alert.txt"
    env = dict(os.environ, ALERT_COMMAND=f'{{ echo "unit=$1"; cat; }} > {out}')
    result = subprocess.run([os.path.join(DEPLOY, "alert.sh"), "anzexian-backup.service"], env=env, capture_output=True)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert text.startswith("unit=anzexian-backup.service\n") and "anzexian-backup.service failed at" in text
    failing = dict(os.environ, ALERT_COMMAND="exit 3")
    result = subprocess.run(
        [os.path.join(DEPLOY, "alert.sh"), "anzexian-web@1.service"], env=failing, capture_output=True, text=True
    )
    assert result.returncode == 1  # the unit's failure is not swallowed: the journal line says both


def _backups(root):
    for name, complete in (("20261128T020000Z", True), ("pre-upgrade-20261129", True), ("20261130T020000Z", False)):
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "database.dump").write_bytes(os.urandom(2048))
        (folder / "files.tar").write_bytes(os.urandom(4096))
        if complete:
            (folder / "manifest.json").write_text(json.dumps({"format": 1, "name": name}))


def _tree(root):
    return {
        os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
        for d, _s, files in os.walk(root)
        for f in files
    }


@pytest.mark.parametrize("tool", ["rsync", "rclone"])
def test_offsite_copy_copies_complete_backups_and_may_run_again(tmp_path, tool):
    if not shutil.which(tool):
        pytest.skip(f"{tool} is not installed")
    source, target = tmp_path / "backups", tmp_path / "offsite"
    _backups(source)
    env = dict(os.environ, BACKUP_DIR=str(source), BACKUP_OFFSITE_SSH_KEY=str(tmp_path / "no-key"))
    if tool == "rsync":
        target.mkdir()
        env["BACKUP_OFFSITE_TARGET"] = str(target) + "/"
    else:  # an rclone remote configured only by environment, as /etc/anzexian/env would (local instead of s3)
        env.update(BACKUP_OFFSITE_TARGET=f"rclone:offsite:{target}", RCLONE_CONFIG_OFFSITE_TYPE="local")
        env["RCLONE_CONFIG"] = str(tmp_path / "rclone.conf")
    script = os.path.join(DEPLOY, "backup-offsite.sh")
    for _run in range(2):
        result = subprocess.run([script], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "2 backups present there, 1 skipped" in result.stdout
    wanted = {k: v for k, v in _tree(source).items() if not k.startswith("20261130T020000Z")}
    assert _tree(target) == wanted  # pre-upgrade included, the interrupted backup left out
    os.remove(source / "20261128T020000Z" / "files.tar")  # pruned here: the copy there stays
    assert subprocess.run([script], env=env, capture_output=True).returncode == 0
    assert (target / "20261128T020000Z" / "files.tar").exists()
    unset = dict(env, BACKUP_OFFSITE_TARGET="")
    result = subprocess.run([script], env=unset, capture_output=True, text=True)
    assert result.returncode == 1 and "BACKUP_OFFSITE_TARGET is not set" in result.stderr
