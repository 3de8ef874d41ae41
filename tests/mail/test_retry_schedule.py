"""The retry schedule of refused emails: an hour-long SMTP outage must fail nothing (docs/contracts.md §5)."""

from __future__ import annotations

import itertools

from service.kit.config import Settings
from service.mail.tasks import retry_delay


def test_the_default_schedule_doubles_up_to_its_cap_and_outlasts_an_hour_of_outage() -> None:
    settings = Settings(koble_secret_key="x")
    waits = [retry_delay(settings, attempts) for attempts in range(1, settings.email_max_tries)]
    assert waits[:4] == [settings.email_retry_seconds * 2**k for k in range(4)]
    assert all(a <= b <= settings.email_retry_max_seconds for a, b in itertools.pairwise(waits))
    assert waits[-1] == settings.email_retry_max_seconds
    # The last try happens this long after the first: the documented 2 h 50 min, well past an hour.
    assert 2 * 3600 + 45 * 60 < sum(waits) < 2 * 3600 + 55 * 60
