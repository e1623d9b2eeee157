-- A registry database of schema version 1 (Shoal 0.1), as SQL: see test_database_upgrade.py.
-- Never edit: it stands for databases users have. Load with sqlite3.executescript.
PRAGMA user_version = 1;
BEGIN TRANSACTION;
CREATE TABLE application_history (
        name            TEXT NOT NULL,
        revision        INTEGER NOT NULL,
        descriptor_xml  TEXT NOT NULL,
        source          TEXT NOT NULL,
        targets         TEXT NOT NULL,
        variables       TEXT NOT NULL,
        deployed_by     TEXT NOT NULL,
        deployed_at     REAL NOT NULL,
        PRIMARY KEY (name, revision)
    );
INSERT INTO "application_history" VALUES('Grid',1,'<icegrid>
  <application name="Grid">
    <node name="master">
      <server-instance template="ProcessorTemplate" index="0"/>
    </node>
  </application>
</icegrid>
','etc/grid/default.xml','[]','{}','root',1700000000.0);
INSERT INTO "application_history" VALUES('Grid',2,'<icegrid>
  <application name="Grid">
    <node name="master">
      <server-instance template="ProcessorTemplate" index="0"/>
      <server-instance template="ProcessorTemplate" index="1"/>
    </node>
  </application>
</icegrid>
','etc/grid/default.xml','["debug"]','{"PYTHON": "/usr/bin/python3"}','admin',1700000100.5);
CREATE TABLE applications (
        name            TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),
        descriptor_xml  TEXT NOT NULL,
        source          TEXT NOT NULL,      -- the file the descriptor was deployed from
        targets         TEXT NOT NULL,      -- JSON array of target names
        variables       TEXT NOT NULL,      -- JSON object of deploy-time variables
        revision        INTEGER NOT NULL CHECK (revision >= 1),
        deployed_by     TEXT NOT NULL,
        deployed_at     REAL NOT NULL
    );
INSERT INTO "applications" VALUES('Grid','<icegrid>
  <application name="Grid">
    <node name="master">
      <server-instance template="ProcessorTemplate" index="0"/>
      <server-instance template="ProcessorTemplate" index="1"/>
    </node>
  </application>
</icegrid>
','etc/grid/default.xml','["debug"]','{"PYTHON": "/usr/bin/python3"}',2,'admin',1700000100.5);
CREATE TABLE nodes (
        name            TEXT PRIMARY KEY NOT NULL CHECK (name <> ''),
        hostname        TEXT NOT NULL,
        os              TEXT NOT NULL,
        endpoints       TEXT NOT NULL,
        version         TEXT NOT NULL,
        registered_at   REAL NOT NULL,
        last_seen       REAL NOT NULL
    );
INSERT INTO "nodes" VALUES('master','host-a','Linux','tcp -h 10.0.0.1 -p 4062','0.1.0',1700000001.0,1700000200.0);
CREATE TABLE servers (
        server_id               TEXT PRIMARY KEY NOT NULL CHECK (server_id <> ''),
        application             TEXT NOT NULL
                                REFERENCES applications (name) ON DELETE CASCADE,
        node                    TEXT NOT NULL,
        enabled                 INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
        disabled_by             TEXT CHECK (disabled_by IN ('user', 'failure')),
        disabled_reason         TEXT NOT NULL DEFAULT '',
        last_exit_code          INTEGER,
        last_exit_signal        INTEGER,
        last_exit_description   TEXT,
        last_exit_at            REAL,
        restart_count           INTEGER NOT NULL DEFAULT 0,
        CHECK ((enabled = 1) = (disabled_by IS NULL))
    );
INSERT INTO "servers" VALUES('Processor-0','Grid','master',1,NULL,'',NULL,NULL,NULL,NULL,0);
INSERT INTO "servers" VALUES('Processor-1','Grid','node1',0,'failure','exited 5 times in 60 s',NULL,11,'killed by SIGSEGV',1700000150.25,5);
CREATE INDEX servers_by_application ON servers (application);
COMMIT;
