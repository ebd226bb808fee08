using System.Net.Http.Json;
using System.Text.Json;
using BillingWatch.Tests.Fixtures;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace BillingWatch.Tests.Dashboard;

/// <summary>
/// The dashboard in a real browser: Debian's Chromium (installed by scripts/test.sh when missing, never
/// downloaded) driven by Playwright against BillingWatch on real Kestrel, seeded with the demo tenant.
/// Screenshots of each page go to screenshots/ under the test output folder.
/// </summary>
public sealed class DashboardBrowserTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly string Screenshots = Path.Combine(AppContext.BaseDirectory, "screenshots");

    private readonly string _dataDir = TestData.NewDirectory();
    private readonly FakeStripeApi _stripe = new();
    private BillingWatchProcess _server = null!;
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;
    private string _apiKey = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Screenshots);
        await _stripe.StartAsync();
        _server = await BillingWatchProcess.StartAsync(_dataDir, new Dictionary<string, string>
        {
            ["BillingWatch__Stripe__ApiBase"] = _stripe.Url,
            ["BillingWatch__Stripe__ClockSeconds"] = "1",
            ["BillingWatch__Stripe__MaxRetryDelaySeconds"] = "1",
            ["BillingWatch__Stripe__ReconcileGraceSeconds"] = "0",
        });
        using var admin = _server.Client(BillingWatchApp.AdminKey);
        var demo = await HttpAssert.JsonAsync(await admin.PostAsync("/api/v1/demo?days=10", null), 201);
        _apiKey = demo.GetProperty("apiKey").GetString()!;

        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: scripts/test.sh installs Debian's chromium package");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
        await _server.DisposeAsync();
        await _stripe.DisposeAsync();
        TestData.TryDelete(_dataDir);
    }

    [Fact]
    public async Task A_tenant_signs_in_sees_the_overview_and_acknowledges_an_anomaly()
    {
        var page = await SignedInPageAsync(_apiKey, width: 1280);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Overview");
        // The new period is drawn by a new page of content: wait for the old one to go, or the checks below
        // could pass on it and the click land while the new one replaces it.
        await Assertions.Expect(page.Locator(".card .label").First).ToHaveTextAsync("Events");
        var shownBefore = await page.QuerySelectorAsync("#main h1");
        await page.SelectOptionAsync("select[name=window]", "7d");
        await page.WaitForFunctionAsync("(heading) => !heading.isConnected", shownBefore);
        await Assertions.Expect(page.Locator(".card .label").First).ToHaveTextAsync("Events");
        await Assertions.Expect(page.Locator("#chart-volume canvas[role=img]").First).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#chart-failures .u-legend")).ToContainTextAsync("Expected high");
        await ShotAsync(page, "overview");

        // The demo's incidents are shaded on the charts: pointing at the first one's span names an incident
        // (the one drawn there: incidents minutes apart share a pixel of a week), and a click opens that one.
        var incident = page.Locator("#incidents a").First;
        await Assertions.Expect(incident).ToBeVisibleAsync();
        var incidentHref = await incident.GetAttributeAsync("href");
        var point = await page.EvaluateAsync<double[]>(
            """
            (href) => {
              const u = document.querySelector("#chart-volume").chart;
              const link = [...document.querySelectorAll("#incidents a")].find((a) => a.getAttribute("href") === href);
              const from = Math.max(Date.parse(link.dataset.from) / 1000, u.scales.x.min);
              const box = u.over.getBoundingClientRect();
              return [box.left + u.valToPos(from, "x") + 2, box.top + box.height / 2];
            }
            """, incidentHref);
        await page.Mouse.MoveAsync((float)point[0], (float)point[1]);
        var named = await page.EvaluateAsync<string>("() => document.querySelector('#chart-volume').chart.over.title");
        Assert.Matches(@" \((medium|high|critical)\)$", named);
        await page.Mouse.ClickAsync((float)point[0], (float)point[1]);

        // Waits on the anomaly page itself: WaitForURL missed this same-document navigation in some runs.
        await Assertions.Expect(page.Locator("#evidence dl.facts dt").First).ToBeVisibleAsync();
        Assert.Matches("#/anomaly/an_[0-9a-f]+$", page.Url);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync(named[..named.LastIndexOf(" (", StringComparison.Ordinal)]);
        await page.GoBackAsync();
        await ExpectHeadingAsync(page, "Overview");

        await page.ClickAsync("nav >> text=Anomalies");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Anomalies");
        var rows = page.Locator("table tbody tr");
        await Assertions.Expect(rows.First).ToBeVisibleAsync();
        Assert.True(await rows.CountAsync() >= 2, "the demo tenant's anomalies are listed");
        await ShotAsync(page, "anomalies");

        // The demo's card-testing attack is history: its episode resolved itself once the attack stopped.
        await page.SelectOptionAsync("select[name=detector]", "card_testing");
        await page.ClickAsync("button:has-text('Filter')");
        await ListShowsOnlyAsync(page, column: 3, "card_testing");
        await page.Locator("table tbody tr a").First.ClickAsync();
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("resolved");
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("(detector,");
        await Assertions.Expect(page.Locator("#episode")).ToContainTextAsync("occurrence");

        await page.ClickAsync("nav >> text=Anomalies");
        await page.SelectOptionAsync("select[name=status]", "open");
        await page.ClickAsync("button:has-text('Filter')");
        await ListShowsOnlyAsync(page, column: 5, "open");
        await page.Locator("table tbody tr a").First.ClickAsync();
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("open");
        await page.FillAsync("#note", "Blocked the card BINs in Radar");
        await page.ClickAsync("button:has-text('Acknowledge')");
        await Assertions.Expect(page.Locator("#status")).ToHaveTextAsync("acknowledged");
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("Blocked the card BINs in Radar");
        await Assertions.Expect(page.Locator("#history")).ToContainTextAsync("Acknowledged");
        await Assertions.Expect(page.Locator("#history")).ToContainTextAsync("by dashboard");
        await ShotAsync(page, "anomaly-detail");

        // Each involved event opens in the events browser with its payload.
        var firstEvent = page.Locator("#anomaly-events tbody tr").First;
        await Assertions.Expect(firstEvent).ToBeVisibleAsync();
        await firstEvent.Locator("a").Last.ClickAsync();
        await Assertions.Expect(page.Locator("#payload")).ToContainTextAsync("\"type\"");

        // The same change through the API: the page did not only say it changed.
        using var api = _server.Client(_apiKey);
        var acknowledged = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/anomalies?status=acknowledged"), 200);
        Assert.Equal("Blocked the card BINs in Radar", acknowledged.GetProperty("items")[0].GetProperty("statusNote").GetString());
    }

    [Fact]
    public async Task A_bad_detector_setting_shows_the_apis_validation_message_and_a_good_one_saves()
    {
        var page = await SignedInPageAsync(_apiKey, width: 1280);
        await page.ClickAsync("nav >> text=Detectors");
        await ExpectHeadingAsync(page, "Detectors");
        var section = page.Locator("#detector-card_testing");
        var setting = section.Locator("input[type=number]").First;
        await setting.FillAsync("-5");
        await section.Locator("button:has-text('Save')").ClickAsync();
        var error = section.Locator("[role=alert]");
        await Assertions.Expect(error).ToBeVisibleAsync();
        Assert.Contains("card_testing", await error.TextContentAsync() ?? string.Empty);
        await ShotAsync(page, "detectors-error");

        await setting.FillAsync("12");
        await section.Locator("button:has-text('Save')").ClickAsync();
        await Assertions.Expect(section.Locator("[role=status]")).ToHaveTextAsync("Saved.");
        await ShotAsync(page, "detectors");

        // Backtest before you tune: the page says what the API's backtest says for these settings.
        await section.Locator("button:has-text('Try on the last 30 days')").ClickAsync();
        var verdict = section.Locator("[role=status]");
        await Assertions.Expect(verdict).ToContainTextAsync("would have raised");
        using var api = _server.Client(_apiKey);
        var saved = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/detectors/card_testing"), 200);
        var backtest = await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/detectors/card_testing/backtest", new { settings = saved.GetProperty("settings"), days = 30 }), 200);
        var alerts = backtest.GetProperty("alerts").GetInt32();
        await Assertions.Expect(verdict).ToContainTextAsync($"would have raised {alerts} alert");
    }

    [Fact]
    public async Task An_admin_creates_a_tenant_and_sees_its_key_once()
    {
        var page = await SignedInPageAsync(BillingWatchApp.AdminKey, width: 1280);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Tenants");
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("Demo Store");
        await page.FillAsync("input[name=name]", "Browser Co");
        await page.ClickAsync("button:has-text('Create tenant')");
        var key = page.Locator("#created-key");
        await Assertions.Expect(key).ToContainTextAsync("bwk_");
        await Assertions.Expect(page.Locator("#created-url")).ToContainTextAsync("/webhook/");
        await ShotAsync(page, "admin-created");

        // The key works, and it is not shown again.
        using var api = _server.Client((await key.TextContentAsync())!.Trim());
        Assert.Equal(200, (int)(await api.GetAsync("/api/v1/events")).StatusCode);
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("Browser Co");
        Assert.Equal(0, await page.Locator("#created-key").CountAsync());
        await page.ClickAsync("#signout");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Sign in");
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('bw.key')"));
    }

    [Fact]
    public async Task A_new_tenant_without_events_is_shown_how_to_connect_stripe()
    {
        using var admin = _server.Client(BillingWatchApp.AdminKey);
        var created = await HttpAssert.JsonAsync(await admin.PostAsync("/api/v1/tenants", System.Net.Http.Json.JsonContent.Create(new { name = "Empty Co" })), 201);
        var page = await SignedInPageAsync(created.GetProperty("apiKey").GetString()!, width: 1280);

        await Assertions.Expect(page.Locator("#empty")).ToContainTextAsync("No events yet");
        await Assertions.Expect(page.Locator("#webhook-url")).ToHaveTextAsync(created.GetProperty("webhookUrl").GetString()!);
        await ShotAsync(page, "overview-empty");
        await page.ClickAsync("nav >> text=Anomalies");
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("No anomalies match");
        await page.ClickAsync("nav >> text=Alerts");
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("No channels yet");
        // The form offers the kinds the API lists (GET /api/v1/alert-channel-kinds), not a list of its own.
        await Assertions.Expect(page.Locator("select[name=kind] option")).ToHaveTextAsync(["webhook", "slack", "discord", "email"]);
        await ShotAsync(page, "alerts-empty");
    }

    [Fact]
    public async Task A_tenant_connects_stripe_backfills_with_a_progress_bar_and_sees_its_endpoint()
    {
        using var admin = _server.Client(BillingWatchApp.AdminKey);
        var created = await HttpAssert.JsonAsync(await admin.PostAsync("/api/v1/tenants", System.Net.Http.Json.JsonContent.Create(new { name = "Stripe Co" })), 201);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _stripe.AddEvents(Enumerable.Range(0, 600).Select(i => StripeEvents.ChargeSucceeded(created: now - (3 * 86_400) + (i * 300))));
        _stripe.WebhookEndpoints.Add(new System.Text.Json.Nodes.JsonObject
        {
            ["id"] = "we_stripeco",
            ["url"] = created.GetProperty("webhookUrl").GetString(),
            ["status"] = "disabled",
            ["enabled_events"] = new System.Text.Json.Nodes.JsonArray("*"),
        });

        var page = await SignedInPageAsync(created.GetProperty("apiKey").GetString()!, width: 1280);
        await page.ClickAsync("nav >> text=Stripe");
        await ExpectHeadingAsync(page, "Stripe");
        await page.FillAsync("input[name=apiKey]", _stripe.AddKey());
        await page.ClickAsync("button:has-text('Connect')");
        await Assertions.Expect(page.Locator("#stripe-connection")).ToContainTextAsync("rk_test_");
        await Assertions.Expect(page.Locator("#stripe-endpoint")).ToContainTextAsync("disabled (we_stripeco)");

        await page.SelectOptionAsync("select[name=days]", "7");
        await page.ClickAsync("button:has-text('Backfill')");
        await Assertions.Expect(page.Locator("#progress-backfill")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#stripe-backfill")).ToContainTextAsync("Last backfill: completed");
        await Assertions.Expect(page.Locator("#progress-backfill")).ToHaveAttributeAsync("value", "100");
        await Assertions.Expect(page.Locator("#stripe-backfill")).ToContainTextAsync("600 imported");
        await ShotAsync(page, "stripe");

        await page.ClickAsync("nav >> text=Overview");
        await Assertions.Expect(page.Locator("#webhook-health")).ToContainTextAsync("endpoint disabled");
    }

    [Fact]
    public async Task The_revenue_page_charts_mrr_with_its_movements_under_the_content_security_policy()
    {
        foreach (var width in new[] { 1280, 390 })
        {
            var page = await SignedInPageAsync(_apiKey, width);
            var problems = new List<string>();
            page.Console += (_, message) =>
            {
                if (message.Type == "error")
                {
                    problems.Add(message.Text);
                }
            };
            page.PageError += (_, error) => problems.Add(error);
            await page.ClickAsync("nav >> text=Revenue");
            await ExpectHeadingAsync(page, "Revenue");

            // The demo tenant is in test mode: the page says so and shows it rather than an empty live view.
            try
            {
                await Assertions.Expect(page.Locator("main [role=status]")).ToContainTextAsync("showing test mode", new LocatorAssertionsToContainTextOptions { Timeout = 60_000 });
            }
            catch (PlaywrightException ex)
            {
                var html = await page.Locator("main").InnerHTMLAsync();
                throw new InvalidOperationException($"the page shows: {html[..Math.Min(html.Length, 3000)]}; errors: {string.Join(" | ", problems)}", ex);
            }

            var panel = page.Locator("section[id^=mrr-]").First;
            await Assertions.Expect(panel.Locator(".uplot canvas").First).ToBeVisibleAsync();
            await Assertions.Expect(panel.Locator(".u-legend")).ToContainTextAsync("MRR");
            await Assertions.Expect(panel.Locator(".u-legend")).ToContainTextAsync("Churn");
            await Assertions.Expect(panel.Locator("table.movements")).ToContainTextAsync("Ending MRR");
            await Assertions.Expect(page.Locator("main")).Not.ToContainTextAsync("null");
            var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - window.innerWidth");
            Assert.True(overflow <= 1, $"the revenue page is {overflow}px wider than the window at {width}px");
            Assert.Empty(problems);
            await ShotAsync(page, width > 800 ? "revenue" : "revenue-phone");
        }
    }

    [Fact]
    public async Task The_anomaly_list_loads_more_than_one_page()
    {
        using var admin = _server.Client(BillingWatchApp.AdminKey);
        var created = await HttpAssert.JsonAsync(await admin.PostAsync("/api/v1/tenants", System.Net.Http.Json.JsonContent.Create(new { name = "Refunds Co" })), 201);
        var key = created.GetProperty("apiKey").GetString()!;
        using var api = _server.Client(key);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        // 105 large refunds: each is its own "Large refund" anomaly (and the customer's total one more).
        await DetectionApi.ImportAsync(api, Enumerable.Range(0, 105).Select(i => StripeEvents.ChargeRefunded(amount: 60_000, refunded: 60_000, created: now - 3600 + i)));
        var total = (await DetectionApi.AllAnomaliesAsync(api)).Count;
        Assert.InRange(total, 106, 200);
        var page = await SignedInPageAsync(key, width: 1280);
        await page.ClickAsync("nav >> text=Anomalies");
        await ExpectHeadingAsync(page, "Anomalies");

        var rows = page.Locator("table tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(100);
        await page.ClickAsync("button:has-text('Load more')");
        await Assertions.Expect(rows).ToHaveCountAsync(total);
        await Assertions.Expect(page.Locator("button:has-text('Load more')")).ToBeHiddenAsync();
    }

    [Fact]
    public async Task The_overview_fits_a_phone_and_a_wrong_key_is_refused()
    {
        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 390, Height = 844 } });
        await page.GotoAsync(_server.BaseAddress.ToString());
        await page.FillAsync("#key", "bwk_not_a_real_key_000000000000000000000000");
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.Locator("[role=alert]")).ToHaveTextAsync("That key was not accepted.");

        await page.FillAsync("#key", _apiKey);
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.Locator(".card").First).ToBeVisibleAsync();
        var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - window.innerWidth");
        Assert.True(overflow <= 1, $"the page is {overflow}px wider than the phone");
        await ShotAsync(page, "overview-phone");
    }

    [Fact]
    public async Task Every_page_has_no_serious_accessibility_violation_and_fits_a_phone()
    {
        var anomalyId = (await DetectionApi.AllAnomaliesAsync(_server.Client(_apiKey))).First().GetProperty("id").GetString()!;
        string[] pages = ["#/overview", "#/anomalies", $"#/anomaly/{Uri.EscapeDataString(anomalyId)}", "#/events", "#/detectors", "#/revenue", "#/alerts", "#/webhooks", "#/stripe", "#/imports"];
        foreach (var width in new[] { 1280, 390 })
        {
            var page = await SignedInPageAsync(_apiKey, width);
            foreach (var hash in pages)
            {
                await page.EvaluateAsync("(hash) => { location.hash = hash; }", hash);
                await page.WaitForFunctionAsync("() => document.querySelector('main h1') && !document.querySelector('main p.muted')?.textContent.startsWith('Loading')", null, new PageWaitForFunctionOptions { Timeout = 60_000 });
                await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
                await AssertAccessibleAsync(page, $"{hash} at {width}px");
                var overflow = await page.EvaluateAsync<int>("document.documentElement.scrollWidth - window.innerWidth");
                Assert.True(overflow <= 1, $"{hash} is {overflow}px wider than the window at {width}px");
                if (width < 800)
                {
                    await ShotAsync(page, "phone-" + hash.TrimStart('#', '/').Split('/')[0]);
                }
            }
        }

        // The sign-in page and the admin's tenants page too.
        var signIn = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 390, Height = 844 } });
        await signIn.GotoAsync(_server.BaseAddress.ToString());
        await Assertions.Expect(signIn.Locator("h1")).ToHaveTextAsync("Sign in");
        await AssertAccessibleAsync(signIn, "sign in");
        var admin = await SignedInPageAsync(BillingWatchApp.AdminKey, 1280);
        await AssertAccessibleAsync(admin, "tenants");
    }

    [Fact]
    public async Task The_events_browser_finds_a_customers_events_and_shows_a_payload_and_imports_show_progress()
    {
        using var api = _server.Client(_apiKey);
        var charges = await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/events?type=charge.succeeded&limit=1"), 200);
        var chargeId = charges.GetProperty("items")[0].GetProperty("id").GetString()!;
        var charge = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events/{chargeId}"), 200);
        var customer = charge.GetProperty("details").GetProperty("customer").GetString()!;
        var expected = await HttpAssert.JsonAsync(await api.GetAsync($"/api/v1/events?customer={customer}&limit=50"), 200);

        foreach (var width in new[] { 1280, 390 })
        {
            var page = await SignedInPageAsync(_apiKey, width);
            await page.ClickAsync("nav >> text=Events");
            await ExpectHeadingAsync(page, "Events");
            await page.FillAsync("input[name=customer]", customer);
            await page.ClickAsync("#event-search button[type=submit]");
            var rows = page.Locator("#event-results tbody tr");
            await Assertions.Expect(rows).ToHaveCountAsync(expected.GetProperty("items").GetArrayLength());
            await rows.First.Locator("a").ClickAsync();
            await Assertions.Expect(page.Locator("#event-viewer")).ToContainTextAsync(customer);
            await Assertions.Expect(page.Locator("#payload")).ToContainTextAsync("\"data\"");
            await ShotAsync(page, width > 800 ? "events" : "events-phone");
        }

        // An event id goes straight to its payload.
        var byId = await SignedInPageAsync(_apiKey, 1280);
        await byId.ClickAsync("nav >> text=Events");
        await byId.FillAsync("input[name=id]", chargeId);
        await byId.ClickAsync("#event-search button[type=submit]");
        await Assertions.Expect(byId.Locator("#event-viewer h2")).ToHaveTextAsync(chargeId);
        await Assertions.Expect(byId.Locator("#event-viewer")).ToContainTextAsync("Outcome");

        // An import is listed, completed, at 100 %.
        await DetectionApi.ImportAsync(api, [StripeEvents.ChargeSucceeded(), StripeEvents.ChargeFailed()]);
        await byId.ClickAsync("nav >> text=Imports");
        await ExpectHeadingAsync(byId, "Imports");
        var imported = byId.Locator("#import-list tbody tr").First;
        await Assertions.Expect(imported).ToContainTextAsync("completed");
        Assert.Equal("100", await imported.Locator("progress").GetAttributeAsync("value"));
    }

    [Fact]
    public async Task A_channel_is_edited_in_place_deliveries_filter_and_webhook_health_counts_refusals()
    {
        using var admin = _server.Client(BillingWatchApp.AdminKey);
        const string secret = "whsec_browser_health_test_secret";
        var created = await HttpAssert.JsonAsync(await admin.PostAsync("/api/v1/tenants", JsonContent.Create(new { name = "Health Co", webhookSecret = secret })), 201);
        var key = created.GetProperty("apiKey").GetString()!;
        var path = new Uri(created.GetProperty("webhookUrl").GetString()!).AbsolutePath;
        using var http = _server.Client();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (int)(await http.SendAsync(StripeSigner.Request(path, secret, StripeEvents.ChargeSucceeded()))).StatusCode);
        }

        Assert.Equal(400, (int)(await http.SendAsync(StripeSigner.Request(path, secret, StripeEvents.ChargeSucceeded(), header: "t=1,v1=forged"))).StatusCode);
        using var api = _server.Client(key);
        await HttpAssert.JsonAsync(await api.PostAsJsonAsync("/api/v1/alert-channels", new { kind = "email", name = "Ops", target = "ops@example.com", minSeverity = "high" }), 201);

        var page = await SignedInPageAsync(key, 1280);
        await page.ClickAsync("nav >> text=Alerts");
        await ExpectHeadingAsync(page, "Alerts");
        var row = page.Locator("#channels tbody tr").First;
        await row.Locator("button:has-text('Edit')").ClickAsync();
        await row.Locator("input[name=name]").FillAsync("Ops team");
        await row.Locator("select[name=minSeverity]").SelectOptionAsync("medium");
        await row.Locator("input[name=digest]").CheckAsync();
        await row.Locator("button:has-text('Save')").ClickAsync();
        await Assertions.Expect(page.Locator("#channels tbody tr").First).ToContainTextAsync("Ops team");
        await Assertions.Expect(page.Locator("#channels tbody tr").First).ToContainTextAsync("daily digest");
        var channel = (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-channels"), 200)).GetProperty("items")[0];
        Assert.Equal(("Ops team", "ops@example.com", "medium", true), (channel.GetProperty("name").GetString(), channel.GetProperty("target").GetString(), channel.GetProperty("minSeverity").GetString(), channel.GetProperty("digest").GetBoolean()));

        // A silence for a sale weekend, set and ended from the page.
        await page.SelectOptionAsync("#silence-form select[name=duration]", "240");
        await page.SelectOptionAsync("#silence-form select[name=detectors]", ["refund_spike", "revenue_drop"]);
        await page.SelectOptionAsync("#silence-form select[name=maxSeverity]", "high");
        await page.FillAsync("#silence-form input[name=comment]", "Black Friday weekend");
        await page.ClickAsync("#silence-form button:has-text('Silence alerts')");
        var silenceRow = page.Locator("#silences tbody tr").First;
        await Assertions.Expect(silenceRow).ToContainTextAsync("active");
        await Assertions.Expect(silenceRow).ToContainTextAsync("refund_spike, revenue_drop (up to high)");
        var silence = (await HttpAssert.JsonAsync(await api.GetAsync("/api/v1/alert-silences"), 200)).GetProperty("items")[0];
        Assert.Equal(["refund_spike", "revenue_drop"], silence.GetProperty("detectors").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(TimeSpan.FromHours(4), silence.GetProperty("endsAt").GetDateTimeOffset() - silence.GetProperty("startsAt").GetDateTimeOffset());
        Assert.Equal("Black Friday weekend", silence.GetProperty("comment").GetString());
        Assert.Equal("high", silence.GetProperty("maxSeverity").GetString());
        await AssertAccessibleAsync(page, "#/alerts with a channel and a silence");
        await silenceRow.Locator("button:has-text('End now')").ClickAsync();
        await Assertions.Expect(page.Locator("#silences tbody tr").First).ToContainTextAsync("expired");

        await page.SelectOptionAsync("#delivery-filters select[name=status]", "failed");
        await page.WaitForURLAsync("**status=failed");
        await Assertions.Expect(page.Locator("main")).ToContainTextAsync("No deliveries match.");
        await ShotAsync(page, "alerts");

        // Refusals are written every few seconds: the page shows them once they are (state, not time).
        await page.ClickAsync("nav >> text=Webhooks");
        await ExpectHeadingAsync(page, "Webhook health");
        await Assertions.Expect(page.Locator("#deliveries")).ToHaveTextAsync("3");
        for (var attempt = 0; attempt < 120 && await page.Locator("#refused").TextContentAsync() != "1"; attempt++)
        {
            await page.WaitForTimeoutAsync(500);
            await page.ReloadAsync();
            await ExpectHeadingAsync(page, "Webhook health");
        }

        await Assertions.Expect(page.Locator("#refused")).ToHaveTextAsync("1");
        await Assertions.Expect(page.Locator("#rejects")).ToContainTextAsync("Bad signature");
        await Assertions.Expect(page.Locator("#chart-deliveries canvas[role=img]")).ToBeVisibleAsync();
        await ShotAsync(page, "webhooks");
    }

    /// <summary>axe-core over the page as shown: no serious or critical violation (each listed with its elements when there is one).</summary>
    private static async Task AssertAccessibleAsync(IPage page, string where)
    {
        var result = await page.RunAxe();
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(serious.Count == 0, $"{where}: " + string.Join("\n", serious.Select(v =>
            $"{v.Impact} {v.Id}: {v.Help} — {string.Join(" | ", v.Nodes.Take(3).Select(n => n.Html))}")));
    }

    /// <summary>
    /// Waits until the filtered list has replaced the one before it (every row shows <paramref name="value"/> in
    /// <paramref name="column"/>): a click before then could land on a row of the unfiltered list.
    /// </summary>
    private static Task ListShowsOnlyAsync(IPage page, int column, string value) =>
        page.WaitForFunctionAsync(
            "([column, value]) => { const cells = [...document.querySelectorAll(`table tbody tr td:nth-child(${column})`)]; return cells.length > 0 && cells.every((td) => td.textContent === value); }",
            new object[] { column, value },
            new PageWaitForFunctionOptions { Timeout = 60_000 });

    /// <summary>Waits for a page's heading; on failure says what the page showed instead, and what the server logged.</summary>
    private async Task ExpectHeadingAsync(IPage page, string heading)
    {
        try
        {
            await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync(heading, new LocatorAssertionsToHaveTextOptions { Timeout = 60_000 });
        }
        catch (PlaywrightException ex)
        {
            await ShotAsync(page, "failed-" + heading.ToLowerInvariant());
            var output = _server.Output;
            throw new InvalidOperationException($"expected '{heading}', the page shows: {await page.Locator("main").InnerTextAsync()}\nserver log tail:\n{output[Math.Max(0, output.Length - 3000)..]}", ex);
        }
    }

    private async Task<IPage> SignedInPageAsync(string key, int width)
    {
        var page = await _browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = 900 } });
        page.SetDefaultTimeout(60_000);
        await page.GotoAsync(_server.BaseAddress.ToString());
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Sign in");
        await page.FillAsync("#key", key);
        await page.ClickAsync("button[type=submit]");
        await Assertions.Expect(page.Locator("#nav")).ToBeVisibleAsync();

        // The first page after sign-in has drawn its data before a test clicks anywhere: a navigation
        // clicked while it is still loading was seen to be lost under load (issue 12, item 7).
        await Assertions.Expect(page.Locator(key.StartsWith("bwadmin_", StringComparison.Ordinal) ? "main table, main .empty" : "main .card, #empty").First).ToBeVisibleAsync();
        return page;
    }

    private static Task ShotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, name + ".png"), FullPage = true });
}
