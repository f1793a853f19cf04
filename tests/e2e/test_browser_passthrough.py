"""What the proxy must not break: first-party cookies (logins) and form posts round-trip intact."""

import pytest

pytestmark = pytest.mark.slow

LOGIN_FORM = """<!doctype html><form method="post" action="/login">
<input name="user" value="alice"><button id="go">Log in</button></form>"""


def test_a_login_cookie_and_a_form_post_round_trip(sites, page):
    vendor = sites["vendor.test"]
    vendor.page("/", LOGIN_FORM)
    vendor.page("/login", "<p>welcome</p>",
                headers=[("set-cookie", "session=abc123; Path=/; Secure; HttpOnly; SameSite=Lax")])
    vendor.page("/account", "<p>your account</p>")
    page.goto("https://vendor.test/")
    page.click("#go")
    page.wait_for_url("https://vendor.test/login")
    login = vendor.wait_for("/login")
    assert (login.method, login.body) == ("POST", b"user=alice")
    page.goto("https://vendor.test/account")
    assert vendor.wait_for("/account").cookies == {"session": "abc123"}
