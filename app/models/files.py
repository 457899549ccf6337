from flask_appbuilder import Model
from sqlalchemy import BigInteger, Column, Integer, String

from .base import UtcDateTime, utcnow


class StoredFile(Model):
    """An upload or a generated document. The bytes live in app.storage under ``key``.

    owner_type/owner_id name the row the file belongs to; downloads are scoped through that owner.
    """

    __tablename__ = "stored_file"
    id = Column(Integer, primary_key=True)
    key = Column(String(80), nullable=False, unique=True)
    original_name = Column(String(255), nullable=False)
    content_type = Column(String(128), nullable=False)
    size = Column(BigInteger, nullable=False)
    sha256 = Column(String(64), nullable=False)
    kind = Column(String(32), nullable=False)
    owner_type = Column(String(32), index=True)
    owner_id = Column(Integer)
    uploaded_by_id = Column(Integer)  # no FK: ab_user → party → stored_file would make a cycle
    created_at = Column(UtcDateTime, nullable=False, default=utcnow)

    @property
    def is_image(self):
        return self.content_type in ("image/jpeg", "image/png")

    def __repr__(self):
        return self.original_name
