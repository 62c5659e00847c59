"""Notification duties: one rule file per regime (with its citations) and the evaluator that
turns an impact model into outcomes and deadlines. Not legal advice."""
