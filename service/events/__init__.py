"""Event days: sign-up, meeting requests, the meeting schedule and agendas (issue 14)."""
