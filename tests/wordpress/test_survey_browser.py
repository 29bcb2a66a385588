"""The exit survey in a real browser (Debian's Chromium, headless) on a real WordPress site with
the real sidecar: members answer after cancelling or from an email link, in French, with the
keyboard only, and while the sidecar is down; the answers reach the owner's admin API.
"""

from __future__ import annotations

import socket

import pytest

from tests.support.wordpress import (
    CANCEL_PAGE,
    SURVEY,
    THANKS_FR,
    TITLE_FR,
    answered,
    assert_no_php_errors,
    bridge_constants,
    cancel_in_browser,
    cancellations,
    install_french,
    make_members,
    outbox,
    sign_in,
    submit_login_form,
    wait_for,
)



# --------------------------------------------------------------------------- helpers
def survey_site(wordpress_site, sidecar, version: str):
    """A site wired to the sidecar, one French member (Anaïs 0) with one subscription, and the
    page standing for MemberPress's account page."""
    site = wordpress_site(version, constants=bridge_constants(sidecar))
    install_french(site)
    member = make_members(site, 1, 1)[0]
    account = site.wp_json("""
        return wp_insert_post(array('post_type' => 'page', 'post_status' => 'publish', 'post_title' => 'Mon compte',
            'post_content' => '<!-- wp:paragraph --><p>Votre espace membre.</p><!-- /wp:paragraph -->'));
    """)
    return site, member, f"{site.url}/?page_id={account}"


def survey_link(sidecar) -> str:
    [item] = wait_for(lambda: cancellations(sidecar), timeout=60)
    response = sidecar.get(f"/v1/sites/{sidecar.site_id}/cancellations/{item['id']}/survey-link")
    assert response.status_code == 200, response.text
    return response.json()["token"]


def survey_rows(site):
    return [r for r in outbox(site) if r["event_type"] == "survey.submitted"]


# --------------------------------------------------------------------------- after the cancel
@pytest.mark.parametrize("wp_version", ["6.8", "6.1"])
def test_a_member_answers_in_french_on_the_page_after_the_cancel(wordpress_site, sidecar_server, page, screenshots_dir,
                                                                  wp_version):
    sidecar = sidecar_server()
    site, member, account = survey_site(wordpress_site, sidecar, wp_version)
    sign_in(page, site, member)

    page.goto(account)
    assert page.locator(SURVEY).count() == 0, "never before the cancel"
    page.goto(site.wp_json("return get_permalink((int) get_option('farewell_bridge_survey_page_id'));"))
    assert page.locator("input[name=reason]").count() == 0, "nor on the survey page: there is nothing to answer about"
    assert "Votre compte n’a pas de résiliation récente" in page.locator(SURVEY).inner_text()

    cancel_in_browser(page, site, member)
    page.goto(account)
    survey = page.locator(SURVEY)
    assert survey.get_by_role("heading", name=TITLE_FR).is_visible()
    assert page.get_by_text("Votre espace membre.").is_visible(), "the theme's page, with the survey on top"
    # Every field is labelled and the contact detail is the account's email.
    for field in page.locator(f"{SURVEY} input:not([type=hidden]), {SURVEY} textarea").all():
        field_id = field.get_attribute("id")
        assert field_id and page.locator(f"label[for='{field_id}']").count() == 1, field_id
    assert page.locator("#farewell-contact").input_value() == member["email"]
    codes = [c.get_attribute("value") for c in page.locator("input[name=reason]").all()]
    assert len(codes) == 9 and codes[-1] == "other"
    if wp_version == "6.8":
        page.set_viewport_size({"width": 1000, "height": 900})
        survey.screenshot(path=str(screenshots_dir / "survey-fr.png"))

    page.get_by_label("Il manque quelque chose dont j’ai besoin").check()
    page.get_by_label("Qu’est-ce qui vous a manqué ?").fill("Des podcasts")
    page.get_by_label("Qu’est-ce qui vous a décidé·e à résilier ?").fill("Trop peu de contenus <b>en français</b>")
    page.get_by_label("J’aimerais qu’on me recontacte").check()
    page.get_by_role("button", name="Envoyer mes réponses").click()

    page.wait_for_load_state()
    assert page.get_by_text(THANKS_FR).is_visible()
    assert page.locator("input[name=reason]").count() == 0
    item = wait_for(answered(sidecar, reason="missing_features"), timeout=60, describe=lambda: str(outbox(site)))
    assert item["follow_up"] == "Des podcasts"
    assert item["comment"] == "Trop peu de contenus <b>en français</b>"
    assert item["contact_requested"] is True
    requests_ = sidecar.get(f"/v1/sites/{sidecar.site_id}/contact-requests").json()["items"]
    assert [r["contact"] for r in requests_] == [member["email"]]

    page.goto(account)
    assert page.locator(SURVEY).count() == 0, "the survey shows once"
    assert_no_php_errors(site)


# --------------------------------------------------------------------------- email links
def test_a_signed_out_member_answers_from_the_email_link(wordpress_site, sidecar_server, page):
    sidecar = sidecar_server()
    site, member, _ = survey_site(wordpress_site, sidecar, "6.8")
    with site.login(member["login"], member["password"]) as session:
        assert CANCEL_PAGE in session.get(f"{site.url}/?farewell_test_cancel={member['subscriptions'][0]}").text
    token = survey_link(sidecar)

    page.goto(f"{site.url}/?farewell_survey={token}")  # the link works on any address of the site
    assert "farewell_survey=" in page.url and "page_id=" in page.url
    assert page.get_by_role("heading", name=TITLE_FR).is_visible()
    assert page.get_by_text("Bonjour Anaïs 0,").is_visible()
    assert page.locator("#farewell-contact").input_value() == member["email"]

    page.get_by_label("Je fais juste une pause").check()
    page.get_by_label("Dans quelques mois").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Envoyer mes réponses").click()
    assert page.get_by_text(THANKS_FR).is_visible()
    assert token not in page.url

    item = wait_for(answered(sidecar, reason="temporary"), timeout=60, describe=lambda: str(outbox(site)))
    assert item["follow_up"] == "in_a_few_months" and item["member"]["id"] == str(member["id"])

    page.goto(f"{site.url}/?farewell_survey={token}")
    assert page.get_by_text("Vous avez déjà répondu").is_visible()
    assert_no_php_errors(site)


def test_a_tampered_link_shows_a_polite_message_and_a_way_to_sign_in(wordpress_site, sidecar_server, page):
    sidecar = sidecar_server()
    site, member, _ = survey_site(wordpress_site, sidecar, "6.8")
    site.wp_eval("update_option('WPLANG', 'fr_FR');")  # a French site: nobody is known from a bad link
    with site.login(member["login"], member["password"]) as session:
        session.get(f"{site.url}/?farewell_test_cancel={member['subscriptions'][0]}")
    token = survey_link(sidecar)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    page.goto(f"{site.url}/?farewell_survey={tampered}")
    message = page.locator(SURVEY)
    assert "n’est pas valide" in message.inner_text() or "n'est pas valide" in message.inner_text()
    assert page.locator("input[name=reason]").count() == 0
    sign_in_link = message.get_by_role("link")
    assert "wp-login.php" in sign_in_link.get_attribute("href")

    with page.expect_navigation():
        sign_in_link.click()
    submit_login_form(page, site, member["login"], member["password"])
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=TITLE_FR).is_visible(), "signed in, the member answers after all"
    assert survey_rows(site) == []


# --------------------------------------------------------------------------- sidecar down
def test_an_answer_sent_while_the_sidecar_is_down_arrives_once_it_is_back(wordpress_site, sidecar_server, page):
    sidecar = sidecar_server()
    site, member, account = survey_site(wordpress_site, sidecar, "6.8")
    sign_in(page, site, member)
    cancel_in_browser(page, site, member)
    wait_for(lambda: cancellations(sidecar), timeout=60)
    page.goto(account)
    assert page.get_by_role("heading", name=TITLE_FR).is_visible()

    sidecar.stop()
    page.get_by_label("C’est trop cher").check()
    page.get_by_label("Quel prix vous aurait semblé juste ?").fill("15 € par mois")
    with page.expect_navigation():
        page.get_by_role("button", name="Envoyer mes réponses").click()
    assert page.get_by_text(THANKS_FR).is_visible(), "thanks at once, whatever the sidecar's state"
    page.go_back()  # a second send of the same form is the same answer
    page.wait_for_load_state()
    [row] = survey_rows(site)
    assert row["status"] == "pending"

    sidecar.start()

    def arrived():
        site.run_cron()
        return answered(sidecar, reason="too_expensive")()

    item = wait_for(arrived, timeout=90, interval=2, describe=lambda: str(outbox(site)))
    assert item["follow_up"] == "15 € par mois"
    [row] = survey_rows(site)
    assert row["status"] == "delivered"
    assert_no_php_errors(site)


# --------------------------------------------------------------------------- keyboard only
def test_the_survey_can_be_completed_with_the_keyboard_only(wordpress_site, sidecar_server, page):
    sidecar = sidecar_server()
    site, member, account = survey_site(wordpress_site, sidecar, "6.8")
    sign_in(page, site, member)
    cancel_in_browser(page, site, member)
    page.goto(account)

    def focused():
        return page.evaluate("""() => { const e = document.activeElement;
            return {tag: e.tagName.toLowerCase(), name: e.getAttribute('name') || '', type: e.type || '',
                    id: e.id || '', value: e.value || ''}; }""")

    for _ in range(80):  # through the theme's header to the first reason
        page.keyboard.press("Tab")
        if focused()["name"] == "reason":
            break
    else:
        pytest.fail("Tab never reached the reasons")
    page.keyboard.press("Space")
    reason = focused()["value"]
    assert page.locator(f"input[name=reason][value={reason}]").is_checked()

    page.keyboard.press("Tab")
    now = focused()
    if now["name"].startswith("follow_up"):
        if now["type"] == "radio":
            page.keyboard.press("Space")
            follow_up = focused()["value"]
        else:
            page.keyboard.type("Au clavier")
            follow_up = "Au clavier"
        page.keyboard.press("Tab")
    else:
        follow_up = None
    assert focused()["id"] == "farewell-comment"
    page.keyboard.type("Tout au clavier.")
    page.keyboard.press("Tab")
    assert focused()["id"] == "farewell-contact-requested"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert focused()["id"] == "farewell-contact", "the contact field appears once asked for"
    page.keyboard.press("Tab")
    assert focused()["tag"] == "button"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_text(THANKS_FR).is_visible()

    item = wait_for(answered(sidecar, reason=reason), timeout=60, describe=lambda: str(outbox(site)))
    assert item["follow_up"] == follow_up
    assert item["comment"] == "Tout au clavier." and item["contact_requested"] is True


# --------------------------------------------------------------------------- render time
def test_survey_render_time_with_the_sidecar_up_and_down(wordpress_site, sidecar_server):
    sidecar = sidecar_server()
    site, member, _ = survey_site(wordpress_site, sidecar, "6.8")
    with site.login(member["login"], member["password"]) as session:  # the survey is about a cancel
        assert CANCEL_PAGE in session.get(f"{site.url}/?farewell_test_cancel={member['subscriptions'][0]}").text

    def render_ms(cold: bool, rounds: int = 5) -> tuple[float, str, list]:
        """Median time of Farewell_Bridge_Survey_Form::render() for the member, where the definition
        is read from right after it (cache, or the bundled default), and the HTTP requests the
        renders made: [timeout, "answered" or WordPress's error] each, seen by http_api_debug."""
        out = site.wp_json(f"""
            $times = array(); $origin = ''; $requests = array();
            add_action( 'http_api_debug', function ( $response, $context, $class, $args ) use ( &$requests ) {{
                $requests[] = array( $args['timeout'], is_wp_error( $response ) ? $response->get_error_message() : 'answered' );
            }}, 10, 4 );
            for ($i = 0; $i < {rounds}; $i++) {{
                if ({'true' if cold else 'false'}) {{ Farewell_Bridge_Survey::flush_cache(); }}
                Farewell_Bridge_Survey_Form::reset();
                $t = microtime(true);
                $html = Farewell_Bridge_Survey_Form::render();
                $times[] = (microtime(true) - $t) * 1000;
                $entry = Farewell_Bridge_Survey::definition(get_user_locale());
                $origin = $entry['origin'];
                if (false === strpos($html, 'name="reason"')) {{ throw new Exception('no form: ' . $html); }}
            }}
            sort($times);
            return array($times[(int) floor(count($times) / 2)], $origin, $requests);
        """, as_user=member["id"])
        return out[0], out[1], out[2]

    results = {
        "up, cache cold": render_ms(cold=True),
        "up, cache warm": render_ms(cold=False),
    }
    sidecar.stop()
    results["down, cache warm"] = render_ms(cold=False)
    results["down, cache cold (bundled default)"] = render_ms(cold=True)
    with socket.socket() as black_hole:  # accepts connections (kernel backlog), never answers
        black_hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        black_hole.bind(("127.0.0.1", sidecar.port))
        black_hole.listen(64)
        results["hanging, cache cold (bundled default)"] = render_ms(cold=True, rounds=3)
        results["hanging, within a minute of a failed fetch"] = render_ms(cold=False, rounds=3)
    print("\nsurvey render time (median, WordPress 6.8, PHP side):")
    for name, (ms, origin, requests) in results.items():
        print(f"  sidecar {name}: {ms:.1f} ms (definition from: {origin}; {len(requests)} request(s))")
    # What makes a render cheap or bounded, asserted rather than its milliseconds (which a busy
    # machine stretches): a warm cache, or a fetch that failed within the minute, asks nothing; a
    # cold cache asks once per render, with the 2 s timeout, and a hanging sidecar is given up on.
    for warm in ("up, cache warm", "down, cache warm"):
        assert results[warm][1:] == ("cache", []), warm
    assert results["hanging, within a minute of a failed fetch"][1:] == ("bundled", [])
    up, down, hanging = (results[name] for name in ("up, cache cold", "down, cache cold (bundled default)",
                                                    "hanging, cache cold (bundled default)"))
    assert up[1] == "cache" and up[2] == [[2, "answered"]] * 5, up  # fetched once, then kept
    assert down[1] == "bundled" and len(down[2]) == 5, down
    assert all(timeout == 2 and outcome != "answered" for timeout, outcome in down[2]), down
    assert hanging[1] == "bundled" and len(hanging[2]) == 3, hanging
    assert all(timeout == 2 and "timed out" in outcome for timeout, outcome in hanging[2]), hanging
