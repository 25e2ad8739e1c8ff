"""The web app: server-rendered pages (quiz, results, learn) and the REST API."""
