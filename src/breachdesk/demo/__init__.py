"""The demo incident: a realistic Mixpanel export of a developer platform's users, its
company directory, and the ground truth both imply."""
