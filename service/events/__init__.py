"""Event days at Bright House (issue 14): events, sign-up, meeting requests, the schedule, agendas,
check-in and the follow-up of every held meeting (docs/architecture.md)."""
