-- A third staff role: the municipalities' business advisers and the regional office see the region's
-- map, the mapping rounds and their exports, but no names or contact details (docs/architecture.md).
-- depends: 0011_sessions

ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check CHECK (role IN ('admin', 'reviewer', 'analyst'));
