import KeelCore

struct ContactsController {
    let routes: RecordRoutes
    let linkers: [any MergeLinker]

    func register(on r: APIRouter) {
        routes.register(on: r)
        routes.registerMerge(on: r, linkers: linkers)
        r.post("/api/v1/contacts/check-duplicates", .read("contacts")) { req in
            let body = try req.decode(ContactDuplicateBody.self)
            var exact: [(String, String)] = []
            if let e = body.email {
                guard let email = Normalize.email(e) else { throw APIError.validation("email", "invalid_format", "email is not a valid address.") }
                exact.append(("email", email))
            }
            if let raw = body.phone {
                guard let phone = Phone.normalize(raw) else { throw APIError.validation("phone", "invalid_format", "phone is not a possible phone number.") }
                exact.append(("phone", phone))
            }
            let name = [body.first_name, body.last_name].compactMap { $0?.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                .joined(separator: " ")
            guard !exact.isEmpty || !name.isEmpty else {
                throw APIError.validation("email", "required", "Give at least one of email, phone, first_name, last_name.")
            }
            let found = try await routes.service.duplicates(try req.caller(), exact: exact, name: name.isEmpty ? nil : name,
                                                            nameFields: ["first_name", "last_name"])
            return try routes.duplicatesReply(req, found)
        }
    }
}

struct CompaniesController {
    let routes: RecordRoutes
    let contacts: RecordService
    let linkers: [any MergeLinker]

    func register(on r: APIRouter) {
        routes.register(on: r)
        routes.registerMerge(on: r, linkers: linkers)
        r.post("/api/v1/companies/check-duplicates", .read("companies")) { req in
            let body = try req.decode(CompanyDuplicateBody.self)
            var exact: [(String, String)] = []
            if let raw = body.domain {
                guard let domain = Domain.normalize(raw) else { throw APIError.validation("domain", "invalid_format", "domain is not a valid domain.") }
                exact.append(("domain", domain))
            }
            let name = body.name?.trimmingCharacters(in: .whitespaces) ?? ""
            guard !exact.isEmpty || !name.isEmpty else { throw APIError.validation("name", "required", "Give a name or a domain.") }
            let found = try await routes.service.duplicates(try req.caller(), exact: exact, name: name.isEmpty ? nil : name, nameFields: ["name"])
            return try routes.duplicatesReply(req, found)
        }
        r.get("/api/v1/companies/{id}/contacts", .read("contacts")) { req in
            let p = try req.caller()
            let company = try await routes.service.get(p, id: try routes.id(req))
            var query = try req.queryDictionary()
            for k in ["limit", "cursor", "include_total", "fields", "expand"] { query[k] = nil }
            query["company_id"] = company.id
            let page = try await contacts.list(p, params: RecordListParams(query: query, page: try req.page()))
            let rendered = try await contacts.expand(p, page.items, names: req.expandNames(), registry: req.services.registry)
            return try req.list(Page(items: rendered.map(JSONValue.object), nextCursor: page.nextCursor, total: page.total))
        }
    }
}

struct NotesController {
    let routes: RecordRoutes

    func register(on r: APIRouter) {
        routes.register(on: r)
    }
}

struct CustomFieldsController {
    func register(on r: APIRouter) {
        r.get("/api/v1/custom-fields", .read("crm")) { req in
            let defs = try await req.services.customFields.list(try req.caller(), objectType: req.query("object_type"))
            return try req.list(Page(items: defs.map(CustomFieldDTO.init), nextCursor: nil))
        }
        r.post("/api/v1/custom-fields", .write("workspace")) { req in
            let b = try req.decode(CustomFieldBody.self)
            let def = try await req.services.customFields.create(try req.caller(), CustomFieldInput(objectType: b.object_type, key: b.key, label: b.label,
                                                                                                 type: b.type, options: b.options, required: b.required),
                                                                 meta: req.meta)
            return try req.created(CustomFieldDTO(def), location: "/api/v1/custom-fields/\(def.id.rawValue)")
        }
        r.get("/api/v1/custom-fields/{id}", .read("crm")) { req in
            let def = try await req.services.customFields.get(try req.caller(), id: try req.id("id", as: CustomFieldKind.self))
            return try req.ok(CustomFieldDTO(def), version: def.version)
        }
        r.patch("/api/v1/custom-fields/{id}", .write("workspace")) { req in
            let id = try req.id("id", as: CustomFieldKind.self)
            // The path id is resolved before the body is read (404 comes before 415/400/422). Reads need crm:read, which a
            // workspace:write key may lack; the probe only learns whether the definition exists, which the write itself reveals.
            var probe = try req.caller()
            probe.scopes.append(Scope("crm", .read))
            _ = try await req.services.customFields.get(probe, id: id)
            let b = try req.decode(CustomFieldBody.self)
            let def = try await req.services.customFields.update(try req.caller(), id: id,
                                                                 CustomFieldInput(objectType: b.object_type, key: b.key, label: b.label, type: b.type,
                                                                                  options: b.options, required: b.required),
                                                                 expectedVersion: try req.ifMatch() ?? b.version, meta: req.meta)
            return try req.ok(CustomFieldDTO(def), version: def.version)
        }
        r.delete("/api/v1/custom-fields/{id}", .write("workspace")) { req in
            try await req.services.customFields.delete(try req.caller(), id: try req.id("id", as: CustomFieldKind.self), meta: req.meta)
            return .noContent
        }
        r.get("/api/v1/tags", .read("crm")) { req in
            let limit = try req.page().limit
            let counts = try await req.services.tags.counts(try req.caller(), prefix: req.query("q"), limit: limit)
            return try req.list(Page(items: counts.map { TagCountDTO(tag: $0.0, count: $0.1) }, nextCursor: nil))
        }
    }
}
