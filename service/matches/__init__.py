"""The match lifecycle: matches, answers, transitions, reply links, reminders and the emails they cause."""
