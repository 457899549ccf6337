"""Following an output that became a job (the redirect to its progress page, its status, its file), and
whether the production queue's Redis is here."""

import re
import socket


def job_id_of(response):
    assert response.status_code in (302, 303), response.status_code
    match = re.search(r"/my/jobs/(\d+)", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def job_status(client, job_id):
    response = client.get(f"/my/jobs/{job_id}/status")
    assert response.status_code == 200
    return response.get_json()


def follow_job(client, response):
    """The final download of ``response``: itself when it is a file, else its (finished) job's file."""
    if response.status_code == 200:
        return response
    state = job_status(client, job_id_of(response))
    assert state["status"] == "done", state
    return client.get(state["download_url"])


def redis_up(host="127.0.0.1", port=6379):
    """Whether a Redis answers on ``host:port`` (the Redis-backed tests skip without one)."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False
