import Foundation
import Synchronization

/// Workspace settings and custom-field definitions for read paths, kept for a second so hot lists and gets
/// skip two lookups; writes always read fresh, and changes in this process invalidate at once.
public final class ContextCache: Sendable {
    public static let shared = ContextCache(ttl: 1)

    struct Entry {
        var workspace: Workspace
        var definitions: [String: [CustomFieldDefinition]]
        var loaded: Date
    }

    let ttl: TimeInterval
    private let entries = Mutex<[WorkspaceID: Entry]>([:])

    init(ttl: TimeInterval) { self.ttl = ttl }

    public func invalidate(_ workspaceID: WorkspaceID) {
        entries.withLock { _ = $0.removeValue(forKey: workspaceID) }
    }

    func get(_ workspaceID: WorkspaceID, objectType: String, now: Date) -> (Workspace, [CustomFieldDefinition]?)? {
        entries.withLock { all in
            guard let e = all[workspaceID], now.timeIntervalSince(e.loaded) < ttl else { return nil }
            return (e.workspace, e.definitions[objectType])
        }
    }

    func put(_ workspace: Workspace, objectType: String, definitions: [CustomFieldDefinition], now: Date) {
        entries.withLock { all in
            if all.count > 10_000 { all.removeAll(keepingCapacity: true) }
            var e = all[workspace.id].flatMap { now.timeIntervalSince($0.loaded) < ttl ? $0 : nil }
                ?? Entry(workspace: workspace, definitions: [:], loaded: now)
            e.definitions[objectType] = definitions
            all[workspace.id] = e
        }
    }
}
