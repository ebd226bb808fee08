using System.Text.Json;
using BillingWatch.Detection;

namespace BillingWatch.Tests.Detection;

public sealed class InlineIdTests
{
    public static TheoryData<string> Ids => new()
    {
        "cus_NffrFeUfNV2Hib",
        "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "x",
        new string('a', InlineId.MaxInline),
        new string('b', InlineId.MaxInline + 1),
        "evt_" + new string('9', 251),
        "cus_ünïcode",
        "with space",
        "tab\there",
        "",
    };

    [Theory]
    [MemberData(nameof(Ids))]
    public void An_id_reads_back_exactly_and_survives_a_snapshot_as_a_value_and_as_a_key(string id)
    {
        var inline = InlineId.From(id);

        Assert.Equal(id, inline.ToString());
        Assert.Equal(inline, InlineId.From(new string(id.AsSpan())));

        var json = JsonSerializer.Serialize(new Dictionary<InlineId, InlineId> { [inline] = inline });
        Assert.Equal(JsonSerializer.Serialize(new Dictionary<string, string> { [id] = id }), json);
        var restored = Assert.Single(JsonSerializer.Deserialize<Dictionary<InlineId, InlineId>>(json)!);
        Assert.Equal(inline, restored.Key);
        Assert.Equal(id, restored.Value.ToString());
    }

    [Fact]
    public void Stripe_ids_are_held_inline_and_only_long_or_unusual_ones_keep_a_string()
    {
        Assert.True(InlineId.From("evt_1NG8Du2eZvKYlo2CUI79vXWy").IsInline);
        Assert.True(InlineId.From(new string('a', InlineId.MaxInline)).IsInline);
        Assert.False(InlineId.From(new string('a', InlineId.MaxInline + 1)).IsInline);
        Assert.False(InlineId.From("cus_ünïcode").IsInline);
        Assert.False(InlineId.From("with space").IsInline);
    }

    [Fact]
    public void Ids_that_differ_anywhere_are_different_even_past_the_inline_length()
    {
        var prefix = new string('p', 200);
        Assert.NotEqual(InlineId.From(prefix + "1"), InlineId.From(prefix + "2"));
        Assert.NotEqual(InlineId.From("cus_1"), InlineId.From("cus_10"));
        Assert.NotEqual(InlineId.From("cus_A"), InlineId.From("cus_a"));
        Assert.NotEqual(InlineId.From("ab"), InlineId.From("ab\0"));
        Assert.Equal(InlineId.From(prefix + "1").GetHashCode(), InlineId.From(prefix + "1").GetHashCode());
    }

    [Fact]
    public void Ids_order_as_their_text_does_ordinally()
    {
        string[] ids = ["cus_b", "cus_a", "cus_", "cus_ab", "Cus_z", new string('z', 100), new string('z', 99) + "a", "cus_é"];

        var byText = ids.Order(StringComparer.Ordinal).ToArray();
        var byInline = ids.Select(InlineId.From).Order(Comparer<InlineId>.Create(InlineId.CompareOrdinal)).Select(id => id.ToString()).ToArray();

        Assert.Equal(byText, byInline);
    }

    [Fact]
    public void Recent_ids_keep_the_newest_in_arrival_order_and_restore_from_their_snapshot()
    {
        var recent = new RecentIds();
        for (var i = 1; i <= 25; i++)
        {
            recent.Add(i == 24 ? "evt_" + new string('L', 100) : $"evt_{i}", max: 20);
        }

        var expected = Enumerable.Range(6, 20).Select(i => i == 24 ? "evt_" + new string('L', 100) : $"evt_{i}").ToList();
        Assert.Equal(expected, recent.Ids);

        var restored = JsonSerializer.Deserialize<RecentIds>(JsonSerializer.Serialize(recent))!;
        Assert.Equal(expected, restored.Ids);
        restored.Add("evt_26", max: 20);
        Assert.Equal([.. expected.Skip(1), "evt_26"], restored.Ids);
    }

    [Fact]
    public void Recent_ids_restored_from_a_longer_list_than_the_bound_keep_only_the_newest()
    {
        var restored = JsonSerializer.Deserialize<RecentIds>("""{"Ids":["a","b","c","d","e"]}""")!;
        Assert.Equal(["a", "b", "c", "d", "e"], restored.Ids);

        restored.Add("f", max: 3);

        Assert.Equal(["d", "e", "f"], restored.Ids);
    }
}

public sealed class SmallListTests
{
    [Fact]
    public void A_small_list_adds_removes_and_finds_in_order_like_a_list()
    {
        var small = default(SmallList<int>);
        var list = new List<int>();
        for (var i = 1; i <= 9; i++)
        {
            small.Add(i);
            list.Add(i);
        }

        Assert.Equal(list, small.ToArray());
        Assert.Equal(list.FindIndex(x => x > 4), small.FindIndex(x => x > 4));
        Assert.Equal(-1, small.FindIndex(x => x > 40));

        Assert.Equal(list.RemoveAll(x => x % 3 == 0), small.RemoveAll(x => x % 3 == 0));
        Assert.Equal(list, small.ToArray());

        small.RemoveAt(0);
        list.RemoveAt(0);
        small.RemoveAt(small.Count - 1);
        list.RemoveAt(list.Count - 1);
        small[1] = 40;
        list[1] = 40;
        Assert.Equal(list, small.ToArray());

        Assert.Throws<ArgumentOutOfRangeException>(() => small[small.Count]);
        Assert.Equal(list.Count, small.RemoveAll(_ => true));
        Assert.Equal(0, small.Count);
        small.Add(7);
        Assert.Equal([7], small.ToArray());
    }

    [Fact]
    public void A_small_list_in_a_map_is_changed_in_place_and_reads_and_writes_as_a_json_array()
    {
        var map = new Dictionary<InlineId, SmallList<string>>();
        ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(map, InlineId.From("cus_1"), out _);
        entry.Add("a");
        entry.Add("b");

        var json = JsonSerializer.Serialize(map);

        Assert.Equal("""{"cus_1":["a","b"]}""", json);
        var restored = JsonSerializer.Deserialize<Dictionary<InlineId, SmallList<string>>>("""{"cus_1":["a","b"],"cus_2":null,"cus_3":[]}""")!;
        Assert.Equal(["a", "b"], restored[InlineId.From("cus_1")].ToArray());
        Assert.Equal(0, restored[InlineId.From("cus_2")].Count);
        Assert.Equal(0, restored[InlineId.From("cus_3")].Count);
    }
}
