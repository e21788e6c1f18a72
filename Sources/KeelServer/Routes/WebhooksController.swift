import KeelCore

struct WebhooksController {
    let service: WebhookService
    let clock: any KeelClock

    func register(on r: APIRouter) {
        r.post("/api/v1/webhooks", .write("webhooks")) { req in
            let created = try await service.create(try req.caller(), body: try req.jsonObject(), meta: req.meta)
            return try req.created(WebhookService.render(created.endpoint, secret: created.secret, now: clock.now()),
                                   location: "/api/v1/webhooks/\(created.endpoint.id.rawValue)")
        }
        r.get("/api/v1/webhooks", .read("webhooks")) { req in
            let page = try await service.list(try req.caller(), page: try req.page())
            let now = clock.now()
            return try req.list(page.map { WebhookService.render($0, now: now) })
        }
        r.get("/api/v1/webhooks/{id}", .read("webhooks")) { req in
            let e = try await service.get(try req.caller(), id: try req.id("id", as: WebhookKind.self))
            return try req.ok(WebhookService.render(e, now: clock.now()), version: e.version)
        }
        r.patch("/api/v1/webhooks/{id}", .write("webhooks")) { req in
            let p = try req.caller()
            let id = try req.id("id", as: WebhookKind.self)
            _ = try await service.get(p, id: id)
            let e = try await service.update(p, id: id, body: try req.jsonObject(), ifMatch: try req.ifMatch(), meta: req.meta)
            return try req.ok(WebhookService.render(e, now: clock.now()), version: e.version)
        }
        r.delete("/api/v1/webhooks/{id}", .write("webhooks")) { req in
            try await service.delete(try req.caller(), id: try req.id("id", as: WebhookKind.self), meta: req.meta)
            return .noContent
        }
        r.post("/api/v1/webhooks/{id}/rotate-secret", .write("webhooks")) { req in
            let rotated = try await service.rotateSecret(try req.caller(), id: try req.id("id", as: WebhookKind.self), meta: req.meta)
            return try req.ok(WebhookService.render(rotated.endpoint, secret: rotated.secret, now: clock.now()), version: rotated.endpoint.version)
        }
        r.post("/api/v1/webhooks/{id}/test", .write("webhooks")) { req in
            let d = try await service.test(try req.caller(), id: try req.id("id", as: WebhookKind.self))
            return try req.ok(WebhookService.render(d, attempts: []), status: .accepted)
        }
        r.get("/api/v1/webhooks/{id}/deliveries", .read("webhooks")) { req in
            let page = try await service.deliveries(try req.caller(), id: try req.id("id", as: WebhookKind.self), status: req.query("status"),
                                                    eventID: req.query("event_id"), page: try req.page())
            return try req.list(page.map { WebhookService.render($0.0, attempts: $0.1) })
        }
        r.post("/api/v1/webhooks/{id}/deliveries/{did}/redeliver", .write("webhooks")) { req in
            let p = try req.caller()
            let id = try req.id("id", as: WebhookKind.self)
            let d = try await service.redeliver(p, id: id, deliveryID: try req.id("did", as: DeliveryKind.self))
            return try req.ok(WebhookService.render(d, attempts: []), status: .accepted)
        }
    }
}

struct AutomationsController {
    let service: AutomationService

    func register(on r: APIRouter) {
        r.post("/api/v1/automations", .write("automations")) { req in
            let a = try await service.create(try req.caller(), body: try req.jsonObject(), meta: req.meta)
            return try req.created(AutomationService.render(a), location: "/api/v1/automations/\(a.id.rawValue)")
        }
        r.get("/api/v1/automations", .read("automations")) { req in
            let page = try await service.list(try req.caller(), isActive: try req.queryBool("is_active"), page: try req.page())
            return try req.list(page.map(AutomationService.render))
        }
        // Runs execute their actions now, and a send_webhook action waits on the receiver: it must not hold the transaction.
        r.post("/api/v1/automations/trigger", .write("automations"), commit: .separately) { req in
            let runs = try await service.trigger(try req.caller(), body: try req.jsonObject())
            return try req.list(Page(items: runs.map(AutomationService.render), nextCursor: nil))
        }
        r.get("/api/v1/automations/runs/{run_id}", .read("automations")) { req in
            try req.ok(AutomationService.render(try await service.run(try req.caller(), runID: try req.id("run_id", as: RunKind.self))))
        }
        r.get("/api/v1/automations/{id}", .read("automations")) { req in
            let a = try await service.get(try req.caller(), id: try req.id("id", as: AutomationKind.self))
            return try req.ok(AutomationService.render(a), version: a.version)
        }
        r.patch("/api/v1/automations/{id}", .write("automations")) { req in
            let p = try req.caller()
            let id = try req.id("id", as: AutomationKind.self)
            _ = try await service.get(p, id: id)
            let a = try await service.update(p, id: id, body: try req.jsonObject(), ifMatch: try req.ifMatch(), meta: req.meta)
            return try req.ok(AutomationService.render(a), version: a.version)
        }
        r.delete("/api/v1/automations/{id}", .write("automations")) { req in
            try await service.delete(try req.caller(), id: try req.id("id", as: AutomationKind.self), meta: req.meta)
            return .noContent
        }
        r.post("/api/v1/automations/{id}/run", .write("automations"), commit: .separately) { req in
            let p = try req.caller()
            let id = try req.id("id", as: AutomationKind.self)
            _ = try await service.get(p, id: id)
            return try req.ok(AutomationService.render(try await service.runNow(p, id: id, body: try req.jsonObject())))
        }
        r.post("/api/v1/automations/{id}/test", .write("automations")) { req in
            let p = try req.caller()
            let id = try req.id("id", as: AutomationKind.self)
            _ = try await service.get(p, id: id)
            return try req.ok(try await service.test(p, id: id, body: try req.jsonObject()))
        }
        r.get("/api/v1/automations/{id}/runs", .read("automations")) { req in
            let p = try req.caller()
            let id = try req.id("id", as: AutomationKind.self)
            return try req.list(try await service.runs(p, id: id, status: req.query("status"), page: try req.page()).map(AutomationService.render))
        }
    }
}
