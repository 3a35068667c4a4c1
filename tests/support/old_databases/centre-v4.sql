BEGIN TRANSACTION;
CREATE TABLE "events" (
   "seq" INTEGER PRIMARY KEY,
   "at" TEXT,
   "type" TEXT,
   "ticket_id" INTEGER,
   "counter" INTEGER,
   "data" TEXT
);
CREATE INDEX "idx_events_at"
    ON "events" ("at");
CREATE INDEX "idx_events_ticket_id"
    ON "events" ("ticket_id");
CREATE TABLE "tickets" (
   "id" INTEGER PRIMARY KEY,
   "day" TEXT NOT NULL,
   "service" TEXT NOT NULL,
   "number" INTEGER NOT NULL,
   "label" TEXT NOT NULL,
   "priority" TEXT,
   "state" TEXT NOT NULL,
   "issued_at" TEXT NOT NULL,
   "order_at" TEXT NOT NULL,
   "device" TEXT,
   "called_at" TEXT,
   "first_called_at" TEXT,
   "started_at" TEXT,
   "finished_at" TEXT,
   "counter" INTEGER,
   "officer" TEXT,
   "recalls" INTEGER,
   "transfers" INTEGER,
   "original_service" TEXT
);
CREATE UNIQUE INDEX "idx_tickets_day_service_number"
    ON "tickets" ("day", "service", "number");
CREATE INDEX "idx_tickets_day_label"
    ON "tickets" ("day", "label");
CREATE INDEX "idx_tickets_state"
    ON "tickets" ("state");
CREATE TABLE "counters" (
   "number" INTEGER PRIMARY KEY,
   "state" TEXT,
   "officer" TEXT,
   "officer_name" TEXT,
   "ticket_id" INTEGER,
   "pause_reason" TEXT,
   "pause_public" INTEGER,
   "priority_run" INTEGER,
   "updated_at" TEXT
);
CREATE TABLE "sequences" (
   "day" TEXT,
   "service" TEXT,
   "last_number" INTEGER,
   PRIMARY KEY ("day", "service")
);
CREATE TABLE "requests" (
   "device" TEXT,
   "request_id" TEXT,
   "at" TEXT,
   "reply" TEXT,
   PRIMARY KEY ("device", "request_id")
);
CREATE INDEX "idx_requests_at"
    ON "requests" ("at");
CREATE TABLE "meta" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
);
CREATE TABLE "pad_prompts" (
   "id" TEXT PRIMARY KEY,
   "counter" INTEGER NOT NULL,
   "ticket_id" INTEGER NOT NULL,
   "ticket" TEXT,
   "day" TEXT,
   "service" TEXT,
   "officer" TEXT,
   "issued_at" TEXT NOT NULL,
   "expires_at" TEXT NOT NULL,
   "ended" TEXT
);
CREATE INDEX "idx_pad_prompts_counter_issued_at"
    ON "pad_prompts" ("counter", "issued_at");
CREATE TABLE "ratings" (
   "rating_id" TEXT PRIMARY KEY,
   "pad" TEXT,
   "boot" INTEGER,
   "seq" INTEGER,
   "counter" INTEGER NOT NULL,
   "prompt" TEXT,
   "status" TEXT NOT NULL,
   "ticket_id" INTEGER,
   "ticket" TEXT,
   "officer" TEXT,
   "service" TEXT,
   "level" INTEGER NOT NULL,
   "level_code" TEXT,
   "weight" REAL NOT NULL,
   "pressed_at" TEXT NOT NULL,
   "received_at" TEXT NOT NULL,
   "day" TEXT NOT NULL,
   "hour" INTEGER
);
CREATE INDEX "idx_ratings_day"
    ON "ratings" ("day");
CREATE UNIQUE INDEX ratings_counted_ticket ON ratings(ticket_id) WHERE status = 'counted';
CREATE TABLE "dossiers" (
   "code" TEXT PRIMARY KEY,
   "procedure_code" TEXT NOT NULL,
   "procedure_name" TEXT NOT NULL,
   "field" TEXT,
   "applicant_name" TEXT NOT NULL,
   "received_at" TEXT NOT NULL,
   "due_at" TEXT NOT NULL,
   "status" TEXT NOT NULL,
   "documents" TEXT
);
CREATE TABLE "dossier_steps" (
   "code" TEXT,
   "seq" INTEGER,
   "step" TEXT NOT NULL,
   "at" TEXT NOT NULL,
   "note" TEXT,
   PRIMARY KEY ("code", "seq")
);
CREATE TABLE "dossier_apologies" (
   "code" TEXT PRIMARY KEY,
   "reason" TEXT NOT NULL,
   "new_due_at" TEXT NOT NULL,
   "issued_at" TEXT NOT NULL
);
CREATE INDEX "idx_dossiers_received_at"
    ON "dossiers" ("received_at");
CREATE INDEX "idx_dossiers_status"
    ON "dossiers" ("status");
CREATE INDEX "idx_dossier_steps_at_step_code"
    ON "dossier_steps" ("at", "step", "code");
CREATE INDEX "ratings_report"
    ON "ratings" ("day", "status", "level", "weight", "counter", "officer", "service", "hour");
CREATE TABLE catalogue_procedures (
            code TEXT PRIMARY KEY COLLATE NOCASE, name TEXT NOT NULL, field TEXT NOT NULL,
            hash TEXT NOT NULL, s_name TEXT NOT NULL DEFAULT '', s_code TEXT NOT NULL DEFAULT '', s_field TEXT NOT NULL DEFAULT '', s_agency TEXT NOT NULL DEFAULT '', s_documents TEXT NOT NULL DEFAULT '', s_steps TEXT NOT NULL DEFAULT '', s_other TEXT NOT NULL DEFAULT '', data TEXT NOT NULL);
CREATE INDEX "idx_catalogue_procedures_s_name"
    ON "catalogue_procedures" ("s_name");
CREATE INDEX "idx_catalogue_procedures_field_s_name"
    ON "catalogue_procedures" ("field", "s_name");
CREATE VIRTUAL TABLE catalogue_names_fts USING fts5(s_name, s_code, s_field, s_agency,
                content='catalogue_procedures', prefix='1 2 3 4 5 6',
                tokenize='unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE catalogue_text_fts USING fts5(s_name, s_code, s_field, s_agency, s_documents, s_steps, s_other,
                content='catalogue_procedures', prefix='1 2 3 4 5 6', detail=column,
                tokenize='unicode61 remove_diacritics 0');
CREATE TABLE "catalogue_meta" (
   "key" TEXT PRIMARY KEY,
   "value" TEXT
);
CREATE TRIGGER catalogue_procedures_ai AFTER INSERT ON catalogue_procedures BEGIN INSERT INTO catalogue_names_fts(rowid, s_name, s_code, s_field, s_agency) VALUES (new.rowid, new.s_name, new.s_code, new.s_field, new.s_agency); INSERT INTO catalogue_text_fts(rowid, s_name, s_code, s_field, s_agency, s_documents, s_steps, s_other) VALUES (new.rowid, new.s_name, new.s_code, new.s_field, new.s_agency, new.s_documents, new.s_steps, new.s_other); END;
CREATE TRIGGER catalogue_procedures_ad AFTER DELETE ON catalogue_procedures BEGIN INSERT INTO catalogue_names_fts(catalogue_names_fts, rowid, s_name, s_code, s_field, s_agency) VALUES ('delete', old.rowid, old.s_name, old.s_code, old.s_field, old.s_agency); INSERT INTO catalogue_text_fts(catalogue_text_fts, rowid, s_name, s_code, s_field, s_agency, s_documents, s_steps, s_other) VALUES ('delete', old.rowid, old.s_name, old.s_code, old.s_field, old.s_agency, old.s_documents, old.s_steps, old.s_other); END;
CREATE TRIGGER catalogue_procedures_au AFTER UPDATE ON catalogue_procedures BEGIN INSERT INTO catalogue_names_fts(catalogue_names_fts, rowid, s_name, s_code, s_field, s_agency) VALUES ('delete', old.rowid, old.s_name, old.s_code, old.s_field, old.s_agency); INSERT INTO catalogue_text_fts(catalogue_text_fts, rowid, s_name, s_code, s_field, s_agency, s_documents, s_steps, s_other) VALUES ('delete', old.rowid, old.s_name, old.s_code, old.s_field, old.s_agency, old.s_documents, old.s_steps, old.s_other); INSERT INTO catalogue_names_fts(rowid, s_name, s_code, s_field, s_agency) VALUES (new.rowid, new.s_name, new.s_code, new.s_field, new.s_agency); INSERT INTO catalogue_text_fts(rowid, s_name, s_code, s_field, s_agency, s_documents, s_steps, s_other) VALUES (new.rowid, new.s_name, new.s_code, new.s_field, new.s_agency, new.s_documents, new.s_steps, new.s_other); END;
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(1,1,'2026-11-23T02:00:00.000+00:00','day_started',NULL,NULL,'{"type": "day_started", "at": "2026-11-23T02:00:00.000+00:00", "day": "2026-11-23"}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(2,2,'2026-11-23T02:00:00.000+00:00','counter_signed_in',NULL,1,'{"type": "counter_signed_in", "at": "2026-11-23T02:00:00.000+00:00", "counter": 1, "officer": "nguyenvana", "officer_name": null}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(3,3,'2026-11-23T02:00:30.000+00:00','ticket_issued',1,NULL,'{"type": "ticket_issued", "at": "2026-11-23T02:00:30.000+00:00", "ticket": {"id": 1, "day": "2026-11-23", "service": "HT", "number": 1001, "label": "1001", "priority": null, "state": "waiting", "issued_at": "2026-11-23T02:00:30.000+00:00", "order_at": "2026-11-23T02:00:30.000+00:00", "device": "", "called_at": null, "first_called_at": null, "started_at": null, "finished_at": null, "counter": null, "officer": null, "recalls": 0, "transfers": 0, "original_service": null}}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(4,4,'2026-11-23T02:01:00.000+00:00','ticket_issued',2,NULL,'{"type": "ticket_issued", "at": "2026-11-23T02:01:00.000+00:00", "ticket": {"id": 2, "day": "2026-11-23", "service": "CT", "number": 2001, "label": "2001", "priority": null, "state": "waiting", "issued_at": "2026-11-23T02:01:00.000+00:00", "order_at": "2026-11-23T02:01:00.000+00:00", "device": "", "called_at": null, "first_called_at": null, "started_at": null, "finished_at": null, "counter": null, "officer": null, "recalls": 0, "transfers": 0, "original_service": null}}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(5,5,'2026-11-23T02:01:30.000+00:00','ticket_issued',3,NULL,'{"type": "ticket_issued", "at": "2026-11-23T02:01:30.000+00:00", "ticket": {"id": 3, "day": "2026-11-23", "service": "HT", "number": 1002, "label": "1002", "priority": null, "state": "waiting", "issued_at": "2026-11-23T02:01:30.000+00:00", "order_at": "2026-11-23T02:01:30.000+00:00", "device": "", "called_at": null, "first_called_at": null, "started_at": null, "finished_at": null, "counter": null, "officer": null, "recalls": 0, "transfers": 0, "original_service": null}}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(6,6,'2026-11-23T02:02:00.000+00:00','ticket_issued',4,NULL,'{"type": "ticket_issued", "at": "2026-11-23T02:02:00.000+00:00", "ticket": {"id": 4, "day": "2026-11-23", "service": "CT", "number": 2002, "label": "2002", "priority": null, "state": "waiting", "issued_at": "2026-11-23T02:02:00.000+00:00", "order_at": "2026-11-23T02:02:00.000+00:00", "device": "", "called_at": null, "first_called_at": null, "started_at": null, "finished_at": null, "counter": null, "officer": null, "recalls": 0, "transfers": 0, "original_service": null}}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(7,7,'2026-11-23T02:02:30.000+00:00','ticket_issued',5,NULL,'{"type": "ticket_issued", "at": "2026-11-23T02:02:30.000+00:00", "ticket": {"id": 5, "day": "2026-11-23", "service": "HT", "number": 1003, "label": "1003", "priority": null, "state": "waiting", "issued_at": "2026-11-23T02:02:30.000+00:00", "order_at": "2026-11-23T02:02:30.000+00:00", "device": "", "called_at": null, "first_called_at": null, "started_at": null, "finished_at": null, "counter": null, "officer": null, "recalls": 0, "transfers": 0, "original_service": null}}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(8,8,'2026-11-23T02:04:30.000+00:00','ticket_called',1,1,'{"type": "ticket_called", "at": "2026-11-23T02:04:30.000+00:00", "ticket_id": 1, "ticket": "1001", "service": "HT", "priority": null, "counter": 1, "officer": "nguyenvana", "call_seq": 1, "by_next": true}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(9,9,'2026-11-23T02:04:30.000+00:00','ticket_started',1,1,'{"type": "ticket_started", "at": "2026-11-23T02:04:30.000+00:00", "ticket_id": 1, "counter": 1, "ticket": "1001", "service": "HT"}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(10,10,'2026-11-23T02:05:30.000+00:00','ticket_done',1,1,'{"type": "ticket_done", "at": "2026-11-23T02:05:30.000+00:00", "ticket_id": 1, "counter": 1, "officer": "nguyenvana", "ticket": "1001", "service": "HT"}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(11,11,'2026-11-23T02:06:30.000+00:00','ticket_called',3,1,'{"type": "ticket_called", "at": "2026-11-23T02:06:30.000+00:00", "ticket_id": 3, "ticket": "1002", "service": "HT", "priority": null, "counter": 1, "officer": "nguyenvana", "call_seq": 2, "by_next": true}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(12,12,'2026-11-23T02:06:30.000+00:00','ticket_no_show',3,1,'{"type": "ticket_no_show", "at": "2026-11-23T02:06:30.000+00:00", "ticket_id": 3, "counter": 1, "ticket": "1002", "service": "HT"}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(13,13,'2026-11-23T02:08:30.000+00:00','ticket_called',5,1,'{"type": "ticket_called", "at": "2026-11-23T02:08:30.000+00:00", "ticket_id": 5, "ticket": "1003", "service": "HT", "priority": null, "counter": 1, "officer": "nguyenvana", "call_seq": 3, "by_next": true}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(14,14,'2026-11-23T02:08:30.000+00:00','ticket_started',5,1,'{"type": "ticket_started", "at": "2026-11-23T02:08:30.000+00:00", "ticket_id": 5, "counter": 1, "ticket": "1003", "service": "HT"}');
INSERT INTO "events"("rowid", "seq", "at", "type", "ticket_id", "counter", "data") VALUES(15,15,'2026-11-23T02:09:30.000+00:00','ticket_done',5,1,'{"type": "ticket_done", "at": "2026-11-23T02:09:30.000+00:00", "ticket_id": 5, "counter": 1, "officer": "nguyenvana", "ticket": "1003", "service": "HT"}');
INSERT INTO "tickets"("rowid", "id", "day", "service", "number", "label", "priority", "state", "issued_at", "order_at", "device", "called_at", "first_called_at", "started_at", "finished_at", "counter", "officer", "recalls", "transfers", "original_service") VALUES(1,1,'2026-11-23','HT',1001,'1001',NULL,'done','2026-11-23T02:00:30.000+00:00','2026-11-23T02:00:30.000+00:00','','2026-11-23T02:04:30.000+00:00','2026-11-23T02:04:30.000+00:00','2026-11-23T02:04:30.000+00:00','2026-11-23T02:05:30.000+00:00',1,'nguyenvana',0,0,NULL);
INSERT INTO "tickets"("rowid", "id", "day", "service", "number", "label", "priority", "state", "issued_at", "order_at", "device", "called_at", "first_called_at", "started_at", "finished_at", "counter", "officer", "recalls", "transfers", "original_service") VALUES(2,2,'2026-11-23','CT',2001,'2001',NULL,'waiting','2026-11-23T02:01:00.000+00:00','2026-11-23T02:01:00.000+00:00','',NULL,NULL,NULL,NULL,NULL,NULL,0,0,NULL);
INSERT INTO "tickets"("rowid", "id", "day", "service", "number", "label", "priority", "state", "issued_at", "order_at", "device", "called_at", "first_called_at", "started_at", "finished_at", "counter", "officer", "recalls", "transfers", "original_service") VALUES(3,3,'2026-11-23','HT',1002,'1002',NULL,'no_show','2026-11-23T02:01:30.000+00:00','2026-11-23T02:01:30.000+00:00','','2026-11-23T02:06:30.000+00:00','2026-11-23T02:06:30.000+00:00',NULL,'2026-11-23T02:06:30.000+00:00',1,'nguyenvana',0,0,NULL);
INSERT INTO "tickets"("rowid", "id", "day", "service", "number", "label", "priority", "state", "issued_at", "order_at", "device", "called_at", "first_called_at", "started_at", "finished_at", "counter", "officer", "recalls", "transfers", "original_service") VALUES(4,4,'2026-11-23','CT',2002,'2002',NULL,'waiting','2026-11-23T02:02:00.000+00:00','2026-11-23T02:02:00.000+00:00','',NULL,NULL,NULL,NULL,NULL,NULL,0,0,NULL);
INSERT INTO "tickets"("rowid", "id", "day", "service", "number", "label", "priority", "state", "issued_at", "order_at", "device", "called_at", "first_called_at", "started_at", "finished_at", "counter", "officer", "recalls", "transfers", "original_service") VALUES(5,5,'2026-11-23','HT',1003,'1003',NULL,'done','2026-11-23T02:02:30.000+00:00','2026-11-23T02:02:30.000+00:00','','2026-11-23T02:08:30.000+00:00','2026-11-23T02:08:30.000+00:00','2026-11-23T02:08:30.000+00:00','2026-11-23T02:09:30.000+00:00',1,'nguyenvana',0,0,NULL);
INSERT INTO "counters"("rowid", "number", "state", "officer", "officer_name", "ticket_id", "pause_reason", "pause_public", "priority_run", "updated_at") VALUES(1,1,'open','nguyenvana',NULL,NULL,NULL,0,0,'2026-11-23T02:09:30.000+00:00');
INSERT INTO "sequences"("rowid", "day", "service", "last_number") VALUES(1,'2026-11-23','HT',1003);
INSERT INTO "sequences"("rowid", "day", "service", "last_number") VALUES(2,'2026-11-23','CT',2002);
INSERT INTO "meta"("rowid", "key", "value") VALUES(1,'day','"2026-11-23"');
INSERT INTO "meta"("rowid", "key", "value") VALUES(2,'call_seq','3');
INSERT INTO "dossiers"("rowid", "code", "procedure_code", "procedure_name", "field", "applicant_name", "received_at", "due_at", "status", "documents") VALUES(1,'000.00.31.H12-261102-0002','1.009994','Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ','Xây dựng','Lê Văn Hùng','2026-11-02T02:10:00.000+00:00','2026-11-23','approved','["Đơn đề nghị cấp giấy phép xây dựng", "Bản sao giấy tờ chứng minh quyền sử dụng đất", "02 bộ bản vẽ thiết kế xây dựng"]');
INSERT INTO "dossiers"("rowid", "code", "procedure_code", "procedure_name", "field", "applicant_name", "received_at", "due_at", "status", "documents") VALUES(2,'000.00.31.H12-261102-0004','1.009994','Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ','Xây dựng','Đặng Thị Hồng Nhung','2026-11-02T03:25:00.000+00:00','2026-11-23','processing','["Đơn đề nghị cấp giấy phép xây dựng", "Bản sao giấy tờ chứng minh quyền sử dụng đất", "02 bộ bản vẽ thiết kế xây dựng"]');
INSERT INTO "dossiers"("rowid", "code", "procedure_code", "procedure_name", "field", "applicant_name", "received_at", "due_at", "status", "documents") VALUES(3,'000.00.31.H12-261103-0005','1.009994','Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ','Xây dựng','Phạm Thị Thu Hà','2026-11-03T01:50:00.000+00:00','2026-11-24','supplement_requested','["Đơn đề nghị cấp giấy phép xây dựng", "Bản sao giấy tờ chứng minh quyền sử dụng đất", "02 bộ bản vẽ thiết kế xây dựng"]');
INSERT INTO "dossier_steps"("rowid", "code", "seq", "step", "at", "note") VALUES(1,'000.00.31.H12-261102-0002',1,'received','2026-11-02T02:10:00.000+00:00','');
INSERT INTO "dossier_steps"("rowid", "code", "seq", "step", "at", "note") VALUES(2,'000.00.31.H12-261102-0002',2,'processing','2026-11-03T01:30:00.000+00:00','Chuyển phòng Kinh tế, Hạ tầng và Đô thị thẩm định');
INSERT INTO "dossier_steps"("rowid", "code", "seq", "step", "at", "note") VALUES(3,'000.00.31.H12-261102-0002',3,'processing','2026-11-13T07:00:00.000+00:00','Đã kiểm tra hiện trạng khu đất');
INSERT INTO "dossier_steps"("rowid", "code", "seq", "step", "at", "note") VALUES(4,'000.00.31.H12-261102-0002',4,'approved','2026-11-20T09:10:00.000+00:00','Lãnh đạo UBND đã ký giấy phép');
INSERT INTO "dossier_steps"("rowid", "code", "seq", "step", "at", "note") VALUES(5,'000.00.31.H12-261102-0004',1,'received','2026-11-02T03:25:00.000+00:00','');
INSERT INTO "dossier_steps"("rowid", "code", "seq", "step", "at", "note") VALUES(6,'000.00.31.H12-261102-0004',2,'processing','2026-11-03T02:00:00.000+00:00','Chuyển phòng Kinh tế, Hạ tầng và Đô thị thẩm định');
INSERT INTO "dossier_steps"("rowid", "code", "seq", "step", "at", "note") VALUES(7,'000.00.31.H12-261103-0005',1,'received','2026-11-03T01:50:00.000+00:00','');
INSERT INTO "dossier_steps"("rowid", "code", "seq", "step", "at", "note") VALUES(8,'000.00.31.H12-261103-0005',2,'processing','2026-11-04T01:15:00.000+00:00','');
INSERT INTO "dossier_steps"("rowid", "code", "seq", "step", "at", "note") VALUES(9,'000.00.31.H12-261103-0005',3,'supplement_requested','2026-11-10T03:40:00.000+00:00','Bổ sung bản vẽ mặt bằng móng và bản vẽ mặt cắt có kích thước');
INSERT INTO "dossier_apologies"("rowid", "code", "reason", "new_due_at", "issued_at") VALUES(1,'000.00.31.H12-261102-0004','Cần lấy ý kiến cơ quan Cảnh sát phòng cháy và chữa cháy về phương án thoát nạn','2026-12-04','2026-11-20T08:30:00.000+00:00');
INSERT INTO "dossier_apologies"("rowid", "code", "reason", "new_due_at", "issued_at") VALUES(2,'000.00.31.H12-261102-0002','Chờ kết quả xác minh','2027-01-02','2026-12-23T02:00:00.000+00:00');
INSERT INTO "catalogue_procedures"("rowid", "code", "name", "field", "hash", "s_name", "s_code", "s_field", "s_agency", "s_documents", "s_steps", "s_other", "data") VALUES(1,'1.000894','Đăng ký kết hôn','Hộ tịch','7a96b48dc2329e90be6215620329dc95059ccc727de51a51d04c140e223434fb','dang ky ket hon','1 000894','ho tich','uy ban nhan dan cap xa','to khai dang ky ket hon theo mau hai ben co the khai chung mot to khai to khai dang ky ket hon docx giay xac nhan tinh trang hon nhan neu dang ky ket hon tai noi khong phai noi thuong tru trich luc ghi chu ly hon neu da ly hon hoac huy viec ket hon o nuoc ngoai giay to tuy than cua nguoi yeu cau the can cuoc ho chieu hoac giay to co anh con gia tri xuat trinh hoac xac thuc qua tai khoan dinh danh dien tu vneid','nguoi yeu cau nop ho so tai bo phan mot cua trung tam phuc vu hanh chinh cong hoac tren cong dich vu cong quoc gia xuat trinh giay to tuy than cong chuc tiep nhan kiem tra doi chieu ho so ho so day du thi cap giay tiep nhan ho so va hen tra ket qua chua day du thi huong dan bo sung mot lan bang van ban cong chuc tu phap ho tich kiem tra dieu kien ket hon xac minh neu can ghi vao so ho tich va trinh chu tich uy ban nhan dan cap xa ky tra giay chung nhan ket hon cho hai ben ca hai ben cung ky vao giay chung nhan ket hon va so ho tich tai bo phan mot cua qua dich vu buu chinh hoac ban dien tu tren cong dich vu cong','nam tu du 20 tuoi nu tu du 18 tuoi viec ket hon do hai ben tu nguyen khong bi mat nang luc hanh vi dan su khong thuoc truong hop cam ket hon theo luat hon nhan va gia dinh giay chung nhan ket hon moi ben mot ban chinh xa luat ho tich so 60 2014 qh13 nghi dinh so 123 2015 nd cp quy dinh chi tiet mot so dieu va bien phap thi hanh luat ho tich thong tu so 04 2020 tt btp quy dinh chi tiet thi hanh luat ho tich va nghi dinh so 123 2015 nd cp luat hon nhan va gia dinh so 52 2014 qh13 trong ngay truong hop can xac minh dieu kien ket hon thi khong qua 05 ngay lam viec mien le phi doi voi cong dan viet nam cu tru o trong nuoc dieu 11 luat ho tich hai ben nam nu phai co mat khi trao giay chung nhan ket hon trong ngay truong hop can xac minh dieu kien ket hon thi khong qua 05 ngay lam viec mien le phi doi voi cong dan viet nam cu tru o trong nuoc dieu 11 luat ho tich','{"agency":"Ủy ban nhân dân cấp xã","channels":[{"channel":"truc_tiep","fee":"Miễn lệ phí đối với công dân Việt Nam cư trú ở trong nước (Điều 11 Luật Hộ tịch)","notes":"Hai bên nam, nữ phải có mặt khi trao Giấy chứng nhận kết hôn","time_limit":"Trong ngày; trường hợp cần xác minh điều kiện kết hôn thì không quá 05 ngày làm việc"},{"channel":"truc_tuyen","fee":"Miễn lệ phí đối với công dân Việt Nam cư trú ở trong nước (Điều 11 Luật Hộ tịch)","notes":"","time_limit":"Trong ngày; trường hợp cần xác minh điều kiện kết hôn thì không quá 05 ngày làm việc"}],"code":"1.000894","conditions":"Nam từ đủ 20 tuổi, nữ từ đủ 18 tuổi; việc kết hôn do hai bên tự nguyện; không bị mất năng lực hành vi dân sự; không thuộc trường hợp cấm kết hôn theo Luật Hôn nhân và gia đình.","documents":[{"count":1,"form":"to-khai-dang-ky-ket-hon.docx","name":"Tờ khai đăng ký kết hôn (theo mẫu; hai bên có thể khai chung một tờ khai)","original_or_copy":"ban_chinh"},{"count":1,"form":"","name":"Giấy xác nhận tình trạng hôn nhân, nếu đăng ký kết hôn tại nơi không phải nơi thường trú","original_or_copy":"ban_chinh"},{"count":1,"form":"","name":"Trích lục ghi chú ly hôn, nếu đã ly hôn hoặc hủy việc kết hôn ở nước ngoài","original_or_copy":"ban_sao"},{"count":1,"form":"","name":"Giấy tờ tùy thân của người yêu cầu: thẻ Căn cước, hộ chiếu hoặc giấy tờ có ảnh còn giá trị (xuất trình; hoặc xác thực qua tài khoản định danh điện tử VNeID)","original_or_copy":"ban_chinh"}],"field":"Hộ tịch","legal_basis":["Luật Hộ tịch số 60/2014/QH13","Nghị định số 123/2015/NĐ-CP quy định chi tiết một số điều và biện pháp thi hành Luật Hộ tịch","Thông tư số 04/2020/TT-BTP quy định chi tiết thi hành Luật Hộ tịch và Nghị định số 123/2015/NĐ-CP","Luật Hôn nhân và gia đình số 52/2014/QH13"],"level":"xã","name":"Đăng ký kết hôn","online_level":"mot_phan","related":["1.004873","1.004746","2.000806"],"result":"Giấy chứng nhận kết hôn (mỗi bên một bản chính).","source_note":"","steps":["Người yêu cầu nộp hồ sơ tại Bộ phận Một cửa (Trung tâm Phục vụ hành chính công) hoặc trên Cổng Dịch vụ công quốc gia, xuất trình giấy tờ tùy thân.","Công chức tiếp nhận kiểm tra, đối chiếu hồ sơ; hồ sơ đầy đủ thì cấp Giấy tiếp nhận hồ sơ và hẹn trả kết quả, chưa đầy đủ thì hướng dẫn bổ sung một lần bằng văn bản.","Công chức tư pháp - hộ tịch kiểm tra điều kiện kết hôn, xác minh nếu cần, ghi vào Sổ hộ tịch và trình Chủ tịch Ủy ban nhân dân cấp xã ký.","Trả Giấy chứng nhận kết hôn cho hai bên (cả hai bên cùng ký vào Giấy chứng nhận kết hôn và Sổ hộ tịch) tại Bộ phận Một cửa, qua dịch vụ bưu chính hoặc bản điện tử trên Cổng Dịch vụ công."]}');
INSERT INTO "catalogue_procedures"("rowid", "code", "name", "field", "hash", "s_name", "s_code", "s_field", "s_agency", "s_documents", "s_steps", "s_other", "data") VALUES(2,'1.001193','Đăng ký khai sinh','Hộ tịch','e7f4b6d5546cae34e82a606f0c1488421345077cc2e900861e9141db7e6f9fdf','dang ky khai sinh','1 001193','ho tich','uy ban nhan dan cap xa','to khai dang ky khai sinh theo mau to khai dang ky khai sinh docx giay chung sinh neu khong co thi van ban cua nguoi lam chung hoac giay cam doan ve viec sinh bien ban xac nhan viec tre bi bo roi truong hop tre bi bo roi van ban chung minh viec mang thai ho truong hop tre sinh ra do mang thai ho giay to tuy than cua nguoi yeu cau the can cuoc ho chieu hoac giay to co anh con gia tri xuat trinh hoac xac thuc qua tai khoan dinh danh dien tu vneid van ban uy quyen co chung thuc neu nop thay khong can chung thuc khi nguoi duoc uy quyen la ong ba cha me con vo chong anh chi em ruot','nguoi yeu cau nop ho so tai bo phan mot cua trung tam phuc vu hanh chinh cong hoac tren cong dich vu cong quoc gia xuat trinh giay to tuy than cong chuc tiep nhan kiem tra doi chieu ho so ho so day du thi cap giay tiep nhan ho so va hen tra ket qua chua day du thi huong dan bo sung mot lan bang van ban cong chuc tu phap ho tich kiem tra xac minh neu can ghi vao so ho tich va trinh chu tich uy ban nhan dan cap xa ky tra giay khai sinh ban chinh va ban sao giay khai sinh neu co yeu cau tai bo phan mot cua qua dich vu buu chinh hoac ban dien tu tren cong dich vu cong','cha me hoac nguoi than thich dang ky khai sinh cho tre trong thoi han 60 ngay ke tu ngay sinh thong tin cu tru duoc khai thac tu co so du lieu quoc gia ve dan cu khong yeu cau nop so ho khau so tam tru giay khai sinh thong tin cua tre duoc cap nhat vao co so du lieu ho tich dien tu va co so du lieu quoc gia ve dan cu cap so dinh danh ca nhan xa luat ho tich so 60 2014 qh13 nghi dinh so 123 2015 nd cp quy dinh chi tiet mot so dieu va bien phap thi hanh luat ho tich thong tu so 04 2020 tt btp quy dinh chi tiet thi hanh luat ho tich va nghi dinh so 123 2015 nd cp thong tu so 85 2019 tt btc huong dan ve phi va le phi thuoc tham quyen quyet dinh cua hoi dong nhan dan tinh trong ngay ho so nhan sau 15 gio thi tra ket qua trong ngay lam viec tiep theo mien le phi khi dang ky dung han trong 60 ngay ke tu ngay sinh dang ky qua han theo quy dinh cua hdnd tinh trong ngay ho so nhan sau 15 gio thi tra ket qua trong ngay lam viec tiep theo mien le phi khi dang ky dung han trong 60 ngay ke tu ngay sinh dang ky qua han theo quy dinh cua hdnd tinh trong ngay ho so nhan sau 15 gio thi tra ket qua trong ngay lam viec tiep theo mien le phi khi dang ky dung han trong 60 ngay ke tu ngay sinh dang ky qua han theo quy dinh cua hdnd tinh','{"agency":"Ủy ban nhân dân cấp xã","channels":[{"channel":"truc_tiep","fee":"Miễn lệ phí khi đăng ký đúng hạn (trong 60 ngày kể từ ngày sinh); đăng ký quá hạn: theo quy định của HĐND tỉnh","notes":"","time_limit":"Trong ngày; hồ sơ nhận sau 15 giờ thì trả kết quả trong ngày làm việc tiếp theo"},{"channel":"truc_tuyen","fee":"Miễn lệ phí khi đăng ký đúng hạn (trong 60 ngày kể từ ngày sinh); đăng ký quá hạn: theo quy định của HĐND tỉnh","notes":"","time_limit":"Trong ngày; hồ sơ nhận sau 15 giờ thì trả kết quả trong ngày làm việc tiếp theo"},{"channel":"buu_chinh","fee":"Miễn lệ phí khi đăng ký đúng hạn (trong 60 ngày kể từ ngày sinh); đăng ký quá hạn: theo quy định của HĐND tỉnh","notes":"","time_limit":"Trong ngày; hồ sơ nhận sau 15 giờ thì trả kết quả trong ngày làm việc tiếp theo"}],"code":"1.001193","conditions":"Cha, mẹ hoặc người thân thích đăng ký khai sinh cho trẻ trong thời hạn 60 ngày kể từ ngày sinh. Thông tin cư trú được khai thác từ Cơ sở dữ liệu quốc gia về dân cư; không yêu cầu nộp sổ hộ khẩu, sổ tạm trú.","documents":[{"count":1,"form":"to-khai-dang-ky-khai-sinh.docx","name":"Tờ khai đăng ký khai sinh (theo mẫu)","original_or_copy":"ban_chinh"},{"count":1,"form":"","name":"Giấy chứng sinh; nếu không có thì văn bản của người làm chứng hoặc giấy cam đoan về việc sinh","original_or_copy":"ban_chinh"},{"count":1,"form":"","name":"Biên bản xác nhận việc trẻ bị bỏ rơi (trường hợp trẻ bị bỏ rơi)","original_or_copy":"ban_chinh"},{"count":1,"form":"","name":"Văn bản chứng minh việc mang thai hộ (trường hợp trẻ sinh ra do mang thai hộ)","original_or_copy":"ban_chinh"},{"count":1,"form":"","name":"Giấy tờ tùy thân của người yêu cầu: thẻ Căn cước, hộ chiếu hoặc giấy tờ có ảnh còn giá trị (xuất trình; hoặc xác thực qua tài khoản định danh điện tử VNeID)","original_or_copy":"ban_chinh"},{"count":1,"form":"","name":"Văn bản ủy quyền có chứng thực, nếu nộp thay (không cần chứng thực khi người được ủy quyền là ông, bà, cha, mẹ, con, vợ, chồng, anh, chị, em ruột)","original_or_copy":"ban_chinh"}],"field":"Hộ tịch","legal_basis":["Luật Hộ tịch số 60/2014/QH13","Nghị định số 123/2015/NĐ-CP quy định chi tiết một số điều và biện pháp thi hành Luật Hộ tịch","Thông tư số 04/2020/TT-BTP quy định chi tiết thi hành Luật Hộ tịch và Nghị định số 123/2015/NĐ-CP","Thông tư số 85/2019/TT-BTC hướng dẫn về phí và lệ phí thuộc thẩm quyền quyết định của Hội đồng nhân dân tỉnh"],"level":"xã","name":"Đăng ký khai sinh","online_level":"toan_trinh","related":["1.004884","1.000689","2.000635","1.003583"],"result":"Giấy khai sinh; thông tin của trẻ được cập nhật vào Cơ sở dữ liệu hộ tịch điện tử và Cơ sở dữ liệu quốc gia về dân cư (cấp số định danh cá nhân).","source_note":"","steps":["Người yêu cầu nộp hồ sơ tại Bộ phận Một cửa (Trung tâm Phục vụ hành chính công) hoặc trên Cổng Dịch vụ công quốc gia, xuất trình giấy tờ tùy thân.","Công chức tiếp nhận kiểm tra, đối chiếu hồ sơ; hồ sơ đầy đủ thì cấp Giấy tiếp nhận hồ sơ và hẹn trả kết quả, chưa đầy đủ thì hướng dẫn bổ sung một lần bằng văn bản.","Công chức tư pháp - hộ tịch kiểm tra, xác minh (nếu cần), ghi vào Sổ hộ tịch và trình Chủ tịch Ủy ban nhân dân cấp xã ký.","Trả Giấy khai sinh (bản chính) và bản sao Giấy khai sinh nếu có yêu cầu tại Bộ phận Một cửa, qua dịch vụ bưu chính hoặc bản điện tử trên Cổng Dịch vụ công."]}');
INSERT INTO "catalogue_procedures"("rowid", "code", "name", "field", "hash", "s_name", "s_code", "s_field", "s_agency", "s_documents", "s_steps", "s_other", "data") VALUES(3,'1.003583','Đăng ký khai sinh lưu động','Hộ tịch','e0a6cae1fa33d5b3db573bdab55c1f190b59fe739739b0674e02ffd28575c9ce','dang ky khai sinh luu dong','1 003583','ho tich','uy ban nhan dan cap xa','to khai dang ky khai sinh theo mau to khai dang ky khai sinh docx giay chung sinh hoac giay to thay the giay chung sinh giay to tuy than cua nguoi yeu cau the can cuoc ho chieu hoac giay to co anh con gia tri xuat trinh hoac xac thuc qua tai khoan dinh danh dien tu vneid','uy ban nhan dan cap xa lap ke hoach dang ky ho tich luu dong va thong bao cho nguoi dan o vung kho khan nguoi gia nguoi khuyet tat cong chuc tu phap ho tich den noi cu tru cua nguoi yeu cau de huong dan tiep nhan ho so chu tich uy ban nhan dan cap xa ky giay khai sinh cong chuc ghi so ho tich cong chuc mang giay khai sinh den tra tan noi cho nguoi yeu cau ky nhan vao so ho tich','tre em sinh ra ma cha me bi khuyet tat om benh khong the di dang ky hoac cha me bi bat tam giam chap hanh an phat tu ma khong co nguoi than thich di dang ky giay khai sinh xa luat ho tich so 60 2014 qh13 nghi dinh so 123 2015 nd cp quy dinh chi tiet mot so dieu va bien phap thi hanh luat ho tich thong tu so 04 2020 tt btp quy dinh chi tiet thi hanh luat ho tich va nghi dinh so 123 2015 nd cp 05 ngay lam viec ke tu ngay nhan du giay to mien le phi cong chuc tu phap ho tich den tan noi tiep nhan ho so','{"agency":"Ủy ban nhân dân cấp xã","channels":[{"channel":"truc_tiep","fee":"Miễn lệ phí","notes":"Công chức tư pháp - hộ tịch đến tận nơi tiếp nhận hồ sơ","time_limit":"05 ngày làm việc kể từ ngày nhận đủ giấy tờ"}],"code":"1.003583","conditions":"Trẻ em sinh ra mà cha mẹ bị khuyết tật, ốm bệnh không thể đi đăng ký, hoặc cha mẹ bị bắt, tạm giam, chấp hành án phạt tù mà không có người thân thích đi đăng ký.","documents":[{"count":1,"form":"to-khai-dang-ky-khai-sinh.docx","name":"Tờ khai đăng ký khai sinh (theo mẫu)","original_or_copy":"ban_chinh"},{"count":1,"form":"","name":"Giấy chứng sinh hoặc giấy tờ thay thế Giấy chứng sinh","original_or_copy":"ban_chinh"},{"count":1,"form":"","name":"Giấy tờ tùy thân của người yêu cầu: thẻ Căn cước, hộ chiếu hoặc giấy tờ có ảnh còn giá trị (xuất trình; hoặc xác thực qua tài khoản định danh điện tử VNeID)","original_or_copy":"ban_chinh"}],"field":"Hộ tịch","legal_basis":["Luật Hộ tịch số 60/2014/QH13","Nghị định số 123/2015/NĐ-CP quy định chi tiết một số điều và biện pháp thi hành Luật Hộ tịch","Thông tư số 04/2020/TT-BTP quy định chi tiết thi hành Luật Hộ tịch và Nghị định số 123/2015/NĐ-CP"],"level":"xã","name":"Đăng ký khai sinh lưu động","online_level":"","related":["1.001193"],"result":"Giấy khai sinh.","source_note":"Mã thủ tục lấy từ một nguồn thứ cấp, chưa đối chiếu trực tiếp trên Cơ sở dữ liệu quốc gia về thủ tục hành chính.","steps":["Ủy ban nhân dân cấp xã lập kế hoạch đăng ký hộ tịch lưu động và thông báo cho người dân ở vùng khó khăn, người già, người khuyết tật.","Công chức tư pháp - hộ tịch đến nơi cư trú của người yêu cầu để hướng dẫn, tiếp nhận hồ sơ.","Chủ tịch Ủy ban nhân dân cấp xã ký Giấy khai sinh; công chức ghi Sổ hộ tịch.","Công chức mang Giấy khai sinh đến trả tận nơi cho người yêu cầu ký nhận vào Sổ hộ tịch."]}');
INSERT INTO "catalogue_meta"("rowid", "key", "value") VALUES(1,'schema','1');
INSERT INTO "catalogue_meta"("rowid", "key", "value") VALUES(2,'fold','1');
INSERT INTO "catalogue_meta"("rowid", "key", "value") VALUES(3,'version','7a4f16cf14de33ccb3b102bd9393ac4f744cb0e7e8211586b1e2646656a3fe8e');
COMMIT;
PRAGMA user_version=4;
