"""The participant's side of matching: one suggestion at a time, answers, mutual matches, my matches."""
