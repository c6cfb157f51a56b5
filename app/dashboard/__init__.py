"""The dashboard at /dashboard: server-rendered pages (Jinja2) for marketing analysts and ops, with
charts drawn by Chart.js from assets served here (the pages make no request elsewhere).

Each view gathers its figures with the functions the API's routes call (app/customers,
app/serving, app/store), so a page shows what the API answers; ``pages.py`` holds the routes,
``session.py`` who looks (the API key entered once, kept for the browser session), and one module
per view its figures. It may import every package below it, app/api included (whose small
helpers, such as a version's description, it reuses); nothing imports it but app/main.py.
"""
