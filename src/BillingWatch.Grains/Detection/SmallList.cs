using System.Text.Json;
using System.Text.Json.Serialization;

namespace BillingWatch.Detection;

/// <summary>
/// A short list held as a value, for the per-customer entries of a detector's map: the first entry inline,
/// the rest in an array only once there are more. Most customers have one payment, card or refund inside a
/// window, so most customers cost the map's entry and nothing else: no list and no array for the
/// collector to promote and trace while the window holds them (docs/PERFORMANCE.md). Kept in a
/// dictionary, it is changed through a reference to the entry (<c>CollectionsMarshal</c>), never a copy.
/// In a snapshot it is a JSON array, as the <see cref="List{T}"/> it replaces was.
/// </summary>
[JsonConverter(typeof(SmallListJsonConverter))]
public struct SmallList<T>
{
    private T _first;
    private T[]? _rest;
    private int _count;

    public readonly int Count => _count;

    public T this[int index]
    {
        readonly get
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_count, nameof(index));
            return index == 0 ? _first : _rest![index - 1];
        }

        set
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_count, nameof(index));
            if (index == 0)
            {
                _first = value;
            }
            else
            {
                _rest![index - 1] = value;
            }
        }
    }

    public void Add(T item)
    {
        if (_count == 0)
        {
            _first = item;
        }
        else
        {
            if (_rest is null || _rest.Length < _count)
            {
                Array.Resize(ref _rest, Math.Max(2, _count * 2));
            }

            _rest[_count - 1] = item;
        }

        _count++;
    }

    /// <summary>Removes the entry at <paramref name="index"/>; those after it move up one, keeping their order.</summary>
    public void RemoveAt(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_count, nameof(index));
        for (var i = index; i < _count - 1; i++)
        {
            this[i] = this[i + 1];
        }

        this[_count - 1] = default!;
        _count--;
        if (_count <= 1)
        {
            _rest = null;
        }
    }

    /// <summary>Removes every entry that matches, keeping the order of the rest; returns how many went.</summary>
    public int RemoveAll(Predicate<T> match)
    {
        var kept = 0;
        for (var i = 0; i < _count; i++)
        {
            var item = this[i];
            if (!match(item))
            {
                this[kept++] = item;
            }
        }

        var removed = _count - kept;
        for (var i = kept; i < _count; i++)
        {
            this[i] = default!;
        }

        _count = kept;
        if (_count <= 1)
        {
            _rest = null;
        }

        return removed;
    }

    public readonly int FindIndex(Predicate<T> match)
    {
        for (var i = 0; i < _count; i++)
        {
            if (match(this[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A copy of the entries, in order (for evidence and snapshots, not the per-event path).</summary>
    public readonly T[] ToArray()
    {
        var items = new T[_count];
        for (var i = 0; i < _count; i++)
        {
            items[i] = this[i];
        }

        return items;
    }
}

/// <summary>Reads and writes a <see cref="SmallList{T}"/> as a JSON array; null reads as empty.</summary>
public sealed class SmallListJsonConverter : JsonConverterFactory
{
    public override bool CanConvert(Type typeToConvert) => typeToConvert.IsGenericType && typeToConvert.GetGenericTypeDefinition() == typeof(SmallList<>);

    public override JsonConverter CreateConverter(Type typeToConvert, JsonSerializerOptions options) =>
        (JsonConverter)Activator.CreateInstance(typeof(Converter<>).MakeGenericType(typeToConvert.GetGenericArguments()[0]))!;

    private sealed class Converter<T> : JsonConverter<SmallList<T>>
    {
        public override bool HandleNull => true;

        public override SmallList<T> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var list = default(SmallList<T>);
            foreach (var item in JsonSerializer.Deserialize<T[]>(ref reader, options) ?? [])
            {
                list.Add(item);
            }

            return list;
        }

        public override void Write(Utf8JsonWriter writer, SmallList<T> value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, value.ToArray(), options);
    }
}
