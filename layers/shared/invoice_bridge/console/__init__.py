"""The office's console: the daily work in a browser (issue 16).

Server-rendered pages (jinja2) on the same domain and admin-API service functions the admin API uses,
served by ConsoleFunction (functions/console) under /console. Sign-in is Cognito's; the console keeps
its own server-side session (sessions.py), so API Gateway lets /console through unauthenticated and
every page checks the session itself (web.py, app.py).
"""
