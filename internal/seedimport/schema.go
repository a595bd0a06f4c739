package seedimport

// TutorialSchema is the DDL that Flask-SQLAlchemy's db.create_all() writes
// for the tutorial's Users and Books models on SQLite (SQLAlchemy 1.3, which
// the tutorial used, also adds the CHECK for the Boolean column). Import
// reads databases of this shape; tests build their fixtures with it.
const TutorialSchema = `
CREATE TABLE users (
	id INTEGER NOT NULL, 
	public_id INTEGER, 
	name VARCHAR(50), 
	password VARCHAR(50), 
	admin BOOLEAN, 
	PRIMARY KEY (id), 
	CHECK (admin IN (0, 1))
);
CREATE TABLE books (
	id INTEGER NOT NULL, 
	user_id INTEGER NOT NULL, 
	name VARCHAR(50) NOT NULL, 
	"Author" VARCHAR(50) NOT NULL, 
	"Publisher" VARCHAR(50) NOT NULL, 
	book_prize INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(user_id) REFERENCES users (id), 
	UNIQUE (name), 
	UNIQUE ("Author")
);
`
