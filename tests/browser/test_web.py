"""The web pages in a real headless Chromium: what an admin and a user see and do.

Every test's docstring starts with ``ASSERTS:``. Devices are real: registered by
pyactivesync's Provision and FolderSync against the same server. Each page visited is
saved as target/screenshots/<test>-<step>.png.
"""
from __future__ import annotations

import json
import subprocess

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import Page, sync_again


def easd(server, *args: str) -> str:
    res = subprocess.run([str(server.bin), *args, "--data", str(server.data_dir)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, f"easd {' '.join(args)} exited {res.returncode}: {res.stderr}"
    return res.stdout


@pytest.fixture(scope="session")
def admin_email(easd_server) -> str:
    """The admin account easd made at first start (``admin@<hostname>``)."""
    admins = [a["email"] for a in json.loads(easd(easd_server, "user", "list", "--json"))
              if a.get("admin")]
    assert len(admins) == 1, admins
    return admins[0]


def admin_login(page: Page, admin_email: str) -> None:
    page.login(admin_email, page.server.admin_password)
    assert page.driver.current_url.endswith("/admin"), page.driver.current_url


def device_state(page: Page, device) -> str:
    """The State column of the device's row in the list."""
    page.open(f"/admin/devices?user={device.account.email}")
    return page.device_row(device).find_elements(By.TAG_NAME, "td")[-1].text


def choose_and_act(page: Page, device, label: str) -> None:
    page.device_row(device).find_element(By.CSS_SELECTOR, "input[type=radio]").click()
    page.submit_and_wait(page.button(label, "form[action='/admin/devices']"))


def test_admin_login(browser: Page, admin_email: str) -> None:
    """ASSERTS: / leads to the login page; a wrong password is refused on the page (401,
    still signed out); the right one opens the dashboard with the version and the
    certificate; signing out leads back to the login page."""
    browser.open("/")
    assert browser.driver.current_url.endswith("/login")
    browser.shot("login")
    browser.login(admin_email, "not-the-password")
    assert browser.status() == 401
    assert "Sign in" in browser.text() and "Sign out" not in browser.text()
    browser.shot("refused")
    admin_login(browser, admin_email)
    text = browser.text()
    assert "Version" in text and "Certificate" in text and "Sign out" in text, text
    browser.shot("dashboard")
    browser.submit_and_wait(browser.button("Sign out"))
    assert browser.driver.current_url.endswith("/login")
    browser.open("/admin")
    assert browser.driver.current_url.endswith("/login")


def test_list_and_filter_devices(browser: Page, admin_email: str, register_device, easd_server) -> None:
    """ASSERTS: the device list shows both accounts' devices; filtering by account shows
    only that account's; a filter that matches nothing shows none."""
    a = register_device(easd_server.alice)
    b = register_device(easd_server.bob)
    admin_login(browser, admin_email)
    browser.open("/admin/devices")
    assert {a.name, b.name} <= set(browser.device_rows()), browser.text()
    browser.shot("all")
    browser.find("#user").send_keys(easd_server.bob.email)
    browser.submit_and_wait(browser.button("Filter", "form[method=get]"))
    shown = set(browser.device_rows())
    assert b.name in shown and a.name not in shown, browser.text()
    assert all(n.startswith(easd_server.bob.email + "/") for n in shown), shown
    browser.shot("filtered")
    browser.open("/admin/devices?model=no-such-model")
    assert "0 devices" in browser.text()
    assert not browser.driver.find_elements(By.CSS_SELECTOR, "tbody tr")
    browser.shot("none")


def test_block_and_allow(browser: Page, admin_email: str, register_device, easd_server) -> None:
    """ASSERTS: blocking a device shows it blocked, allowing it shows it allowed; an action
    without a device chosen is refused with a message."""
    d = register_device(easd_server.alice)
    admin_login(browser, admin_email)
    assert device_state(browser, d) == "allowed"
    choose_and_act(browser, d, "Block")
    assert device_state(browser, d) == "blocked"
    browser.shot("blocked")
    choose_and_act(browser, d, "Allow")
    assert device_state(browser, d) == "allowed"
    browser.shot("allowed")
    browser.submit_and_wait(browser.button("Block", "form[action='/admin/devices']"))
    assert browser.find("p.notice.error[role=alert]").text == "Choose a device first."
    assert device_state(browser, d) == "allowed"


def test_create_rule(browser: Page, admin_email: str) -> None:
    """ASSERTS: a server rule added on the rules page is listed (parameter, value, action,
    description, enabled); one without a value is not added (the form requires it)."""
    admin_login(browser, admin_email)
    browser.open("/admin/rules")
    browser.shot("before")
    before = len(browser.driver.find_elements(By.CSS_SELECTOR, "form[action='/admin/rules/server'] tbody tr"))
    form = "form[action='/admin/rules/save']"
    # The value is required: the browser does not send the form.
    browser.button("Save", form).click()
    assert browser.driver.current_url.endswith("/admin/rules")
    assert browser.find("#value").get_attribute("validationMessage")
    browser.find("#param").send_keys("model")
    browser.find("#value").send_keys("Pixel 9")
    browser.find(f"{form} #action").send_keys("blocked")
    browser.find("#description").send_keys("No Pixels from the browser test")
    browser.submit_and_wait(browser.button("Save", form))
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "form[action='/admin/rules/server'] tbody tr")
    assert len(rows) == before + 1, browser.text()
    row = browser.row_of("No Pixels from the browser test")
    cells = [td.text for td in row.find_elements(By.TAG_NAME, "td")]
    assert cells[2:] == [
        "enabled", "No Pixels from the browser test", "model", "Pixel 9", "blocked", "New-device settings"
    ], cells
    browser.shot("added")


def test_policy_domain_then_user_inherits(browser: Page, admin_email: str, easd_server) -> None:
    """ASSERTS: a value saved at domain level makes the domain "own settings"; the user
    level of an account in that domain then says "inherited from domain example.com" and
    shows the domain's value; a bad value is refused with a message."""
    domain = easd_server.alice.email.split("@")[1]
    admin_login(browser, admin_email)
    browser.open(f"/admin/policies?level=domain:{domain}")
    browser.shot("domain-before")
    field = browser.find("#MinDevicePasswordLength")
    field.clear()
    field.send_keys("7")
    browser.submit_and_wait(browser.button("Save", "form[action='/admin/policies']"))
    assert "own settings" in browser.text(), browser.text()
    assert browser.find("#MinDevicePasswordLength").get_attribute("value") == "7"
    browser.shot("domain-saved")
    browser.open(f"/admin/policies?level=user:{easd_server.alice.email}")
    assert f"inherited from domain {domain}" in browser.text(), browser.text()
    assert browser.find("#MinDevicePasswordLength").get_attribute("value") == "7"
    browser.shot("user-inherits")
    browser.open(f"/admin/policies?level=domain:{domain}")
    field = browser.find("#MinDevicePasswordLength")
    field.clear()
    field.send_keys("many")
    browser.submit_and_wait(browser.button("Save", "form[action='/admin/policies']"))
    assert browser.find("p.notice.error[role=alert]").text
    browser.open(f"/admin/policies?level=domain:{domain}")
    assert browser.find("#MinDevicePasswordLength").get_attribute("value") == "7"
    browser.shot("bad-value-refused")


def test_wipe_with_confirmation(browser: Page, admin_email: str, register_device, easd_server) -> None:
    """ASSERTS: Wipe asks again on a page of its own; Cancel there changes nothing; the
    confirmation makes the device's wipe status pending (list and device window)."""
    d = register_device(easd_server.alice)
    admin_login(browser, admin_email)
    browser.open(f"/admin/devices?user={d.account.email}")
    choose_and_act(browser, d, "Wipe")
    assert d.name in browser.text()
    browser.shot("confirm")
    browser.submit_and_wait(browser.driver.find_element(By.LINK_TEXT, "Cancel"))
    assert browser.driver.current_url.endswith("/admin/devices")
    wipe_cell = lambda: browser.device_row(d).find_elements(By.TAG_NAME, "td")[-2].text
    browser.open(f"/admin/devices?user={d.account.email}")
    assert wipe_cell() == "none"
    choose_and_act(browser, d, "Wipe")
    browser.submit_and_wait(browser.button("Wipe", "main"))
    browser.open(f"/admin/devices?user={d.account.email}")
    assert wipe_cell() == "pending"
    browser.shot("pending")
    browser.open(f"/admin/devices/show?device={d.name}")
    assert "pending" in browser.text()
    browser.shot("window")


def test_device_log(browser: Page, admin_email: str, register_device, easd_server) -> None:
    """ASSERTS: the device window has no log at first; after "Log this device" and a sync
    by the device, it shows the decoded exchange (FolderSync in XML)."""
    d = register_device(easd_server.alice)
    admin_login(browser, admin_email)
    browser.open(f"/admin/devices/show?device={d.name}")
    assert "No protocol log for this device." in browser.text()
    browser.shot("empty")
    browser.submit_and_wait(browser.button("Log this device"))
    sync_again(easd_server, d)
    browser.open(f"/admin/devices/show?device={d.name}")
    log = browser.find("pre.log").text
    assert "FolderSync" in log and "<" in log, log
    browser.shot("log")


def test_server_settings(browser: Page, admin_email: str, easd_server) -> None:
    """ASSERTS: the settings page shows the longest heartbeat from the configuration file;
    a new one saved there is said saved, shown as saved here and by `easd settings show`;
    one outside 60..3540 s is refused on the page (422) and nothing changes; "Use the
    file's value" brings the file's back."""
    admin_login(browser, admin_email)
    browser.open("/admin/settings")
    field = "#push\\.max_heartbeat"
    file_value = browser.find(field).get_attribute("value")
    assert "from the configuration file" in browser.text()
    browser.shot("file")
    browser.find(field).clear()
    browser.find(field).send_keys("900")
    browser.submit_and_wait(browser.button("Save"))
    assert "Settings saved." in browser.text(), browser.text()
    assert browser.find(field).get_attribute("value") == "900"
    assert "saved here" in browser.text()
    assert "push.max_heartbeat\t900\tsaved" in easd(easd_server, "settings", "show")
    browser.shot("saved")
    browser.find(field).clear()
    browser.find(field).send_keys("5000")
    browser.submit_and_wait(browser.button("Save"))
    assert browser.status() == 422
    assert "60 to 3540" in browser.find("p.notice.error").text, browser.text()
    assert "push.max_heartbeat\t900\tsaved" in easd(easd_server, "settings", "show")
    browser.shot("refused")
    browser.submit_and_wait(browser.button(f"Use the file's value ({file_value})"))
    assert browser.find(field).get_attribute("value") == file_value
    assert f"push.max_heartbeat\t{file_value}\tfile" in easd(easd_server, "settings", "show")
    browser.shot("back-to-file")


def test_switch_language(browser: Page, admin_email: str) -> None:
    """ASSERTS: the language link shows the pages in French, which stays so on the next
    page; the link back shows English again."""
    admin_login(browser, admin_email)
    browser.submit_and_wait(browser.driver.find_element(By.LINK_TEXT, "Français"))
    assert "Se déconnecter" in browser.text() and "Appareils" in browser.text(), browser.text()
    assert browser.find("html").get_attribute("lang") == "fr"
    browser.shot("french")
    browser.open("/admin/devices")
    assert browser.find("form[method=get] button[type=submit]").text == "Filtrer"
    assert browser.find("html").get_attribute("lang") == "fr"
    browser.shot("french-devices")
    browser.submit_and_wait(browser.driver.find_element(By.LINK_TEXT, "English"))
    assert "Sign out" in browser.text()
    browser.shot("english")


def test_user_sees_and_wipes_only_own_device(browser: Page, register_device, easd_server) -> None:
    """ASSERTS: a user sees their own device and not another account's; the admin pages
    are refused to them (403); a wipe of another account's device is refused (403 page)
    and changes nothing; their own is wiped after a confirmation."""
    mine = register_device(easd_server.alice)
    theirs = register_device(easd_server.bob)
    browser.login(easd_server.alice.email, easd_server.alice.password)
    assert browser.driver.current_url.endswith("/account")
    text = browser.text()
    assert mine.device_id in text and theirs.device_id not in text, text
    browser.shot("own-devices")
    browser.open(f"/admin/devices/show?device={theirs.name}")
    assert browser.status() == 403
    assert "This page is for administrators." in browser.text()
    browser.shot("admin-refused")
    # Someone editing the page to wipe bob's device: the hidden field changed in place.
    browser.open("/account")
    browser.driver.execute_script(
        "document.querySelector(\"form[action='/account/wipe'] input[name=device]\").value = arguments[0];",
        theirs.device_id)
    browser.submit_and_wait(browser.button("Wipe", "form[action='/account/wipe']"))
    assert browser.status() == 403
    assert "This device is not yours." in browser.text()
    browser.shot("not-yours")
    bob_rows = json.loads(easd(easd_server, "device", "list", "--user", easd_server.bob.email, "--json"))
    assert [r["wipe"] for r in bob_rows if r["device_id"] == theirs.device_id] == ["none"]
    browser.open("/account")
    own_form = f"form[action='/account/wipe']:has(input[name=device][value='{mine.device_id}'])"
    browser.submit_and_wait(browser.button("Wipe", own_form))
    assert browser.find("form[action='/account/wipe'] input[name=device]").get_attribute("value") == mine.device_id
    browser.shot("confirm")
    browser.submit_and_wait(browser.button("Yes, wipe it"))
    assert "The device will be wiped the next time it connects." in browser.text()
    browser.shot("wiped")
    alice_rows = json.loads(easd(easd_server, "device", "list", "--user", easd_server.alice.email, "--json"))
    assert [r["wipe"] for r in alice_rows if r["device_id"] == mine.device_id] == ["pending"]


def test_login_with_keyboard_only(browser: Page, easd_server) -> None:
    """ASSERTS: the login form has the focus on the address, Tab reaches the password and
    Enter signs in; a wrong password typed the same way leaves the user on the form."""
    for password, signed_in in (("wrong", False), (easd_server.bob.password, True)):
        browser.open("/login")
        active = browser.driver.switch_to.active_element
        assert active.get_attribute("id") == "user"
        active.send_keys(easd_server.bob.email, Keys.TAB)
        active = browser.driver.switch_to.active_element
        assert active.get_attribute("id") == "password"
        browser.leave_by(lambda: active.send_keys(password, Keys.ENTER))
        if signed_in:
            assert browser.driver.current_url.endswith("/account"), browser.driver.current_url
            browser.shot("signed-in")
        else:
            assert browser.status() == 401
            assert browser.driver.current_url.endswith("/login")
            browser.shot("refused")


def test_edit_directory_entry(browser: Page, admin_email: str, easd_server, tmp_path) -> None:
    """ASSERTS: the accounts page leads to an account's directory entry; a title typed
    and a photo uploaded there are said saved, shown on the page and by `easd user show`;
    a file that is not an image is refused on the page (422) with its reason and changes
    nothing."""
    email = easd_server.alice.email
    admin_login(browser, admin_email)
    browser.open("/admin/accounts")
    link = browser.row_of(email).find_element(By.LINK_TEXT, "Directory entry")
    browser.submit_and_wait(link)
    assert email in browser.text()
    photo = tmp_path / "face.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0" + bytes(2000))
    browser.find("#f-title").clear()
    browser.find("#f-title").send_keys("Head of purchasing")
    browser.find("#photo").send_keys(str(photo))
    browser.shot("filled")
    browser.submit_and_wait(browser.button("Save"))
    assert "Directory entry saved." in browser.text(), browser.text()
    assert browser.find("#f-title").get_attribute("value") == "Head of purchasing"
    assert "Photo of 2004 B" in browser.text()
    shown = json.loads(easd(easd_server, "user", "show", email, "--json"))
    assert ["title", "Head of purchasing"] in shown["fields"], shown
    assert shown["photo"] == 2004, shown
    browser.shot("saved")
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    browser.find("#f-title").clear()
    browser.find("#f-title").send_keys("Changed")
    browser.find("#photo").send_keys(str(text))
    browser.submit_and_wait(browser.button("Save"))
    assert browser.status() == 422
    assert "not a JPEG" in browser.find("p.notice.error").text, browser.text()
    shown = json.loads(easd(easd_server, "user", "show", email, "--json"))
    assert ["title", "Head of purchasing"] in shown["fields"], shown
    browser.shot("refused")
