"""The follow-up face of the match lifecycle: reply links, a participant's match page, email preferences,
the staff outbox and funnel pages, and the transitions API (the lifecycle itself is service/matches)."""
