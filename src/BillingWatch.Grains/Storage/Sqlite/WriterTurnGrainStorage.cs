using Orleans.Runtime;
using Orleans.Storage;

namespace BillingWatch.Storage.Sqlite;

/// <summary>
/// Orleans' ADO.NET grain storage on the embedded database, its writes made in the file's writer's turn.
/// Orleans opens connections of its own, and a write that met the event log's lock got SQLITE_BUSY, on which
/// Microsoft.Data.Sqlite sleeps before it tries again: under load, detection snapshots took 140–650 ms (in
/// steps of about 150 ms) inside the tenant's turn, and that was the webhooks' maximum latency
/// (docs/PERFORMANCE.md). Run by the writer between two of its own writes, the write finds the lock free, and
/// it still lands after the anomalies and book rows queued before it, which the snapshot must not get ahead
/// of. Reads need no lock.
/// </summary>
public sealed class WriterTurnGrainStorage : IGrainStorage
{
    private readonly IGrainStorage _inner;
    private readonly SqliteWriteQueue _writes;

    private WriterTurnGrainStorage(IGrainStorage inner, SqliteWriteQueue writes)
    {
        _inner = inner;
        _writes = writes;
    }

    public static IGrainStorage For(IGrainStorage inner, SqliteDatabase database) => new WriterTurnGrainStorage(inner, database.Writes);

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        _inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        _writes.RunBesideAsync(() => _inner.WriteStateAsync(stateName, grainId, grainState));

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        _writes.RunBesideAsync(() => _inner.ClearStateAsync(stateName, grainId, grainState));
}
