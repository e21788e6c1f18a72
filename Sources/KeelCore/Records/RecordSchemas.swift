/// Every record schema by id prefix, for reference checks.
public enum RecordSchemas {
    public static let byPrefix: [IDPrefix: ObjectSchema] = [
        .contact: ContactBehavior.schema, .company: CompanyBehavior.schema, .deal: DealBehavior.schema, .lead: LeadBehavior.schema,
        .product: ProductBehavior.schema, .note: NoteBehavior.schema, .task: TaskBehavior.schema, .activity: ActivityBehavior.schema,
    ]
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
