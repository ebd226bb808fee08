using System.Text.Json;
using BillingWatch.Detection;
using BillingWatch.Simulation;
using BillingWatch.Tests.Fixtures;

namespace BillingWatch.Tests.Detection;

/// <summary>
/// A detection snapshot is what a reactivated grain restores from, so its shape is a stored format: the
/// snapshots written before the writer changed must restore, and a restored engine must snapshot the same.
/// </summary>
public sealed class EngineSnapshotTests
{
    [Fact]
    public void A_snapshot_holds_the_watermark_each_detector_s_state_and_the_open_episodes_and_restores_to_itself()
    {
        var bytes = EngineAfter(days: 3, seed: 5).Snapshot();

        using var document = JsonDocument.Parse(bytes);
        var root = document.RootElement;
        Assert.True(root.GetProperty("Watermark").GetInt64() > 0);
        var states = root.GetProperty("States").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("card_testing", states);
        Assert.All(states, name => Assert.NotNull(DetectorRegistry.Find(name)));
        Assert.Equal(JsonValueKind.Object, root.GetProperty("Episodes").ValueKind);

        var restored = Restored(bytes);
        Assert.Equal(bytes, restored.Snapshot());
    }

    [Fact]
    public void A_snapshot_written_as_a_document_of_elements_restores_the_same_engine()
    {
        // The shape every snapshot had before states were written straight to the writer.
        var current = EngineAfter(days: 2, seed: 6).Snapshot();
        using var document = JsonDocument.Parse(current);
        var root = document.RootElement;
        var earlier = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["Watermark"] = root.GetProperty("Watermark").GetInt64(),
            ["States"] = root.GetProperty("States").EnumerateObject().ToDictionary(p => p.Name, p => p.Value),
            ["Episodes"] = root.GetProperty("Episodes"),
        });

        Assert.Equal(current, Restored(earlier).Snapshot());
    }

    /// <summary>An engine that has folded a few days of a shop's generated traffic.</summary>
    private static DetectionEngine EngineAfter(int days, int seed)
    {
        var harness = new EngineHarness();
        harness.FoldAll(new TrafficGenerator(new TrafficProfile(), seed).Generate(new DateTimeOffset(2026, 3, 2, 0, 0, 0, TimeSpan.Zero), days));
        return harness.Engine;
    }

    private static DetectionEngine Restored(byte[] snapshot) => new("tn_test", false, new Dictionary<string, DetectorConfig>(), snapshot);
}
