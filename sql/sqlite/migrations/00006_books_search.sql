-- Indexed search (GET /books?q=): a trigram FTS5 index of every book's title
-- and author, kept in step by triggers on books.
--
-- The index is a candidate filter only. The store still applies today's LIKE
-- to the rows it finds, so results are exactly those of the scan it replaces:
-- the trigram tokenizer folds case over all of Unicode while LIKE folds ASCII
-- letters only, so its candidates are a superset, and the LIKE removes the
-- rest. Queries of fewer than 3 characters have no trigram; they scan.
--
-- Contentless (content=''): the index holds no copy of the text, only the
-- books rowid; contentless_delete lets the triggers delete by rowid. books
-- has indexes, so VACUUM keeps its rowids (only index-less rowid tables are
-- renumbered), and a copy (bookstore copy) inserts books through the
-- triggers, so the index follows every path rows take into the file.

-- +goose Up
CREATE VIRTUAL TABLE books_search USING fts5 (
    title, author,
    content = '', contentless_delete = 1, tokenize = 'trigram'
);

INSERT INTO books_search (rowid, title, author) SELECT rowid, title, author FROM books;

-- +goose StatementBegin
CREATE TRIGGER books_search_insert AFTER INSERT ON books BEGIN
    INSERT INTO books_search (rowid, title, author) VALUES (new.rowid, new.title, new.author);
END;
-- +goose StatementEnd

-- Most updates change neither column (price, ISBN...): they leave the index alone.
-- +goose StatementBegin
CREATE TRIGGER books_search_update AFTER UPDATE OF title, author ON books
WHEN old.title IS NOT new.title OR old.author IS NOT new.author BEGIN
    DELETE FROM books_search WHERE rowid = old.rowid;
    INSERT INTO books_search (rowid, title, author) VALUES (new.rowid, new.title, new.author);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER books_search_delete AFTER DELETE ON books BEGIN
    DELETE FROM books_search WHERE rowid = old.rowid;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER books_search_delete;
DROP TRIGGER books_search_update;
DROP TRIGGER books_search_insert;
DROP TABLE books_search;
